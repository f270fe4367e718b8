"""Pictures a person looks at, drawn with OpenCV (no plotting library): PNG writing (:mod:`.png`), contact
sheets (:mod:`.sheets`), confusion matrices (:mod:`.confusion`) and bar charts (:mod:`.bars`). Used by the
real-data code and by the synthetic world alike; imports nothing from either."""
