"""Training: everything that needs the training requirements (TensorFlow and Keras, the notebook's plots), and
nothing that serving imports.

The way in is :func:`.pipeline.train_captioner`, which trains what a recipe (:mod:`.recipes`) describes into a
model folder. Behind it: the merge captioner's Keras network (:mod:`.model`), its training (:mod:`.training`),
distillation (:mod:`.distillation`), self-critical fine-tuning (:mod:`.self_critical`), the Keras encoders
(:mod:`.keras_encoders`, :mod:`.efficientnet_lite`) and their ONNX export (:mod:`.export`); the notebook's figures
are :mod:`.report`. What it writes is a model folder (:mod:`captioner.model_folder`), which the rest of the package
reads with NumPy and ONNX Runtime alone; a test imports every module outside this folder with TensorFlow made
unimportable and checks that none of them imports this folder.
"""
