"""Every source earlywarn can load: the remote ones by connector, the file formats by their
definition.

Adding a remote source: write a module with a class satisfying ``connectors.Connector`` and list
an instance here; ``run_ingest``, the CLI, the scheduler and ``/sources`` pick it up from this map.
"""

from __future__ import annotations

from earlywarn.ingest.acled import AcledConnector
from earlywarn.ingest.connectors import Connector, SourceDefinition
from earlywarn.ingest.gdelt import GdeltConnector
from earlywarn.ingest.reliefweb import ReliefWebConnector
from earlywarn.ingest.sdg import SdgConnector
from earlywarn.ingest.ucdp import UcdpConnector
from earlywarn.ingest.unhcr import UnhcrConnector
from earlywarn.ingest.untc import UntcConnector
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
        UntcConnector(),
    ]
    return {connector.source_id: connector for connector in connectors}


CONNECTORS: dict[str, Connector] = _build()


FILE_SOURCES: dict[str, SourceDefinition] = {
    "csv": SourceDefinition(
        name="Long-format CSV (docs/long-format-csv.md)",
        kind="file",
        url=None,
        licence="as stated by whoever supplies the file",
    ),
    "ewp": SourceDefinition(
        name="Early Warning Project Statistical Risk Assessment, country-year predictors",
        kind="file",
        url="https://github.com/EarlyWarningProject/2025-Statistical-Risk-Assessment",
        licence="no licence published; use for evaluation only, do not redistribute",
    ),
    "vdem": SourceDefinition(
        name="V-Dem country-year data (Varieties of Democracy), selected variables",
        kind="file",
        url="https://v-dem.net/data/the-v-dem-dataset/",
        licence="CC BY-SA 4.0 (cite Coppedge et al. and Pemstein et al.)",
    ),
    "pts": SourceDefinition(
        name="Political Terror Scale (Amnesty, Human Rights Watch, State Department scores)",
        kind="file",
        url="https://www.politicalterrorscale.org/Data/Download.html",
        licence="free to use with citation (Gibney et al.); no formal open licence",
    ),
    "epr": SourceDefinition(
        name="Ethnic Power Relations Core (ETH Zurich), country-year population shares",
        kind="file",
        url="https://icr.ethz.ch/data/epr/core/",
        licence="academic use with citation (Vogt et al. 2015); not an open licence",
    ),
    "coups": SourceDefinition(
        name="Global Instances of Coups (Powell & Thyne), attempts per country-year",
        kind="file",
        url="https://www.uky.edu/~clthyn2/coup_data/powell_thyne_coups_final.txt",
        licence="no licence stated; citation requested (Powell & Thyne 2011)",
    ),
}
KNOWN_SOURCES: dict[str, SourceDefinition] = {
    **FILE_SOURCES,
    **{source_id: c.definition for source_id, c in CONNECTORS.items()},
}
