"""Training: everything that needs TensorFlow and Keras, and nothing that serving imports.

The merge captioner's Keras network (:mod:`.model`), its training (:mod:`.training`), distillation
(:mod:`.distillation`), the recipes (:mod:`.recipes`), the stages joined up (:mod:`.pipeline`), the Keras
encoders (:mod:`.keras_encoders`, :mod:`.efficientnet_lite`) and their ONNX export (:mod:`.export`). What it
writes is a model folder (:mod:`captioner.model_folder`), which the rest of the package reads with
NumPy and ONNX Runtime alone; a test imports every module outside this folder with TensorFlow made
unimportable and checks that none of them imports this folder.
"""
