"""The bundled demo world: a procedurally drawn garment catalogue and a small CLIP trained on it.

world (the catalogue) and captions import no torch; model, train and quality do.
"""
