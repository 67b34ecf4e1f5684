"""The mapping stage: where each validated column goes in the account.

``headers``   header-only reads of files, ZIPs and folders (``read_headers``) for detection
``resolve``   ``resolve_mapping(client, field_columns, …) -> Resolution`` (names → field/list/tag ids over
              HTTP, creating what the flags allow) and ``resolved_to_json``/``resolved_from_json``
``transform`` ``plan_contacts(canonical, field_columns, resolved, …) -> TransformResult`` (PlannedContacts)
``plan``      ``build_plan``/``mapping_report``: each source column's route, for reports and the CLI

Presets and detection live in ``etl.presets`` (validate needs them first); the HTTP calls in ``etl.benchmark``.
"""
