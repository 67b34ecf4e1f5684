"""bme-migrate: move email-marketing contacts from legacy platforms into Benchmark Email.

Stages, each a subpackage: ``extract`` → ``validate`` → ``mapping`` → ``load``; ``sandbox`` is a local
Benchmark-compatible server used as the embedded default target and as the test double.
"""

__version__ = "0.1.0"
