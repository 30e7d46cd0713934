"""The datasets digitnet knows by name: their files, checksums, class names and mirrors."""

from __future__ import annotations

from dataclasses import dataclass, field

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@dataclass(frozen=True)
class DatasetInfo:
    """What identifies a dataset: its files' SHA-256 (uncompressed) and where to find them."""

    name: str
    description: str
    classes: tuple[str, ...]
    sha256: dict[str, str]  # file stem (FILES) -> SHA-256 of the uncompressed bytes
    urls: tuple[str, ...] = ()  # base URLs, tried in order
    md5: dict[str, str] = field(default_factory=dict)  # file stem -> MD5 of the published .gz
    embedded: bool = False
    license: str = "other"  # the data's licence, as a Hugging Face licence id (a model trained on it derives from it)
    license_name: str = "unknown: see the data set's source"


DIGITS = tuple(str(d) for d in range(10))
REGISTRY: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", "MNIST handwritten digits (LeCun, Cortes, Burges), embedded in the package", DIGITS,
        sha256=dict(zip(FILES, (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ))),
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        md5=dict(zip(FILES, ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
                             "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"))),
        embedded=True, license="cc-by-sa-3.0",
        license_name="Creative Commons Attribution-Share Alike 3.0 (as stated by its authors)",
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "Fashion-MNIST: Zalando article images (Xiao, Rasul, Vollgraf 2017)",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        sha256=dict(zip(FILES, (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ))),
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
              "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        md5=dict(zip(FILES, ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                             "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"))),
        license="mit", license_name="MIT (Zalando SE)",
    ),
    "kmnist": DatasetInfo(
        "kmnist", "Kuzushiji-MNIST: cursive Japanese characters (Clanuwat et al. 2018)",
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        sha256={},  # only the archives' MD5s are published
        urls=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        md5=dict(zip(FILES, ("bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
                             "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"))),
        license="cc-by-sa-4.0", license_name="Creative Commons Attribution-Share Alike 4.0 (ROIS-DS CODH)",
    ),
}
