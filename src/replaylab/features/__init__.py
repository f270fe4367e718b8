"""Features: tracking features per frame (header pre-filter), probability-window features (post-filter), and the
feature store of frozen video backbones (:mod:`.store`, :mod:`.featurize`; read for training by :mod:`.dataset`,
trained on by :mod:`.heads`)."""
