"""Presets: what the legacy platforms' exports look like, shared by validate, mapping and the commands.

``preset``   the TOML presets of ``mappings/`` (``load_preset``, ``norm_header``, ``find_column``)
``consent``  the consent vocabulary: how a column's name and its values speak about permission to email
``detect``   ``detect_platform(headers_by_file) -> Detection`` — which platform wrote an export

It sits below the stages because validate needs a preset's columns and consent rules before mapping runs.
"""
