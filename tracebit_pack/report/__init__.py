"""The investigation as a self-contained HTML page: template, charts, and the headless-browser check."""
