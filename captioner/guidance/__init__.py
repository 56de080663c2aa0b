"""Guidance: what names things in a caption, which words it may not say, and how sure it is.

The decoder learned its words from Flickr8k; the encoder knows more. Guidance reads the encoder's features a
second way and steers the search with what it finds (the design and its limits: ``docs/guidance.md``):

    concepts          which words name a person or a thing (CHAIR's groups); the photos a held-out decoder may see
    recognition       the ImageNet layer's words and the concept probes over the pooled features (``objects.npz``)
    rules             GuidanceConfig (the card's thresholds) and Guidance: the tag to name, the bans, the confidence
    fitting           the probes on train; the thresholds and the calibration on dev (``python -m captioner guide``)
    pseudo_captions   captions for photos known only by their labels, to train a decoder on new words (PS-NOC)

Imports run one way: ``concepts``, ``recognition`` and ``rules`` sit below :mod:`captioner.serving`, which applies
them to every caption; ``fitting`` and ``pseudo_captions`` sit above it, because they choose and make what serving
then does with the model's own runtime. This file imports none of them, so reading the word groups costs nothing.
"""
