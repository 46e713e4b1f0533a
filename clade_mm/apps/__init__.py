"""Applications built on clade-mm's synthesis API (``clade_mm.apps.paint``: the painter)."""
