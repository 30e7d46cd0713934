"""Writing a model for use outside digitnet: ONNX (:mod:`.onnx_model`) and a static web page (:mod:`.web`)."""
