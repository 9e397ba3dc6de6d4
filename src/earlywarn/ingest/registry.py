"""Source id -> connector, for every remote source earlywarn can load.

Adding a source: write a module with a class satisfying ``connectors.Connector`` and list an
instance here; ``run_ingest``, the CLI, the scheduler and ``/sources`` pick it up from this map.
"""

from __future__ import annotations

from earlywarn.ingest.acled import AcledConnector
from earlywarn.ingest.connectors import Connector
from earlywarn.ingest.gdelt import GdeltConnector
from earlywarn.ingest.reliefweb import ReliefWebConnector
from earlywarn.ingest.sdg import SdgConnector
from earlywarn.ingest.ucdp import UcdpConnector
from earlywarn.ingest.unhcr import UnhcrConnector
from earlywarn.ingest.worldbank import WorldBankConnector


def _build() -> dict[str, Connector]:
    connectors: list[Connector] = [
        WorldBankConnector(),
        UcdpConnector(),
        AcledConnector(),
        UnhcrConnector(),
        ReliefWebConnector(),
        GdeltConnector(),
        SdgConnector(),
    ]
    return {connector.source_id: connector for connector in connectors}


CONNECTORS: dict[str, Connector] = _build()


def get_connector(source_id: str) -> Connector | None:
    return CONNECTORS.get(source_id)
