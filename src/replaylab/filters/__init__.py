"""The header filters around the clip classifier: the tracking pre-filter (:mod:`.pre`), the
probability-window post-filter (:mod:`.post`), and what they share (:mod:`.xgb`, :mod:`.peaks`, :mod:`.matches`)."""
