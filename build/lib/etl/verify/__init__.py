"""The verify stage: read a migration back from the account and compare it with what the ledger says.

``verifier``  ``verify(...) -> VerifyResult`` — choose what to read, read it, compare
``expected``  what each contact should look like, from the ledger's record of the run
``readback``  how to read the account within a request budget (paging vs batched key searches)
``compare``   one contact's expected state against what the account holds
``output``    verify.json, the console lines and the report section
"""
