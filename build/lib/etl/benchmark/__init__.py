"""The Benchmark Email API as the stages see it: one client that paces, retries, counts and scrubs.

``client``     ``BenchmarkClient`` — every request to the target goes through it
``pacing``     ``Pacer`` — the hourly and monthly budget, read from the answers' rate headers
``structure``  the contact-structure and list calls resolution makes

Below mapping, load and verify because all three talk to the account.
"""
