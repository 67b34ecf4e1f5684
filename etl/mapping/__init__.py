"""The mapping stage: which platform wrote an export, and where each of its columns goes in the account.

``presets``  the TOML presets of ``mappings/`` (``load_preset``, ``norm_header``, ``find_column``)
``headers``  header-only reads of files, ZIPs and folders (``read_headers``) for detection
``detect``   ``detect_platform(headers_by_file) -> Detection(platform, confidence, evidence, closest)``
``resolve``  ``resolve_mapping(client, field_columns, …) -> Resolution`` (names → field/list/tag ids over
             HTTP, creating what the flags allow) and ``resolved_to_json``/``resolved_from_json``
``transform`` ``plan_contacts(canonical, field_columns, resolved, …) -> TransformResult`` (PlannedContacts)
``plan``     ``build_plan``/``mapping_report``: each source column's route, for reports and the CLI
``api``      the structure/list calls resolution makes (error taxonomy, request count)
"""
