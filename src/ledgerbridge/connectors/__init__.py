"""Outside systems: `base` holds the canonical documents and protocols, one folder per vendor."""
