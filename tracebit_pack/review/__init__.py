"""``review``: what a pull request changes in the pack, and what it does, base against head."""
