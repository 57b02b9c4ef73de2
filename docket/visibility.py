"""`docket temporal setup`: register Docket's search attributes on a Temporal cluster through
the operator service, once per namespace (idempotent: only the missing ones are added).

Run it once per namespace before the first worker starts, and again after an upgrade that
adds attributes (README, "Operating Docket"). `docket dev` registers them by itself (its
dev server takes `--search-attribute`). Temporal Cloud registers search attributes through
its own control plane (`tcld`), not this service.
"""

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from workflows.client import SEARCH_ATTRIBUTES

log = logging.getLogger(__name__)


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add whichever of Docket's search attributes the namespace lacks; their names."""
    operator = client.operator_service
    listed = await operator.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    known = {**listed.custom_attributes, **listed.system_attributes}
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SEARCH_ATTRIBUTES
        if key.name not in known
    }
    if missing:
        await operator.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    log.info(
        "search attributes in namespace %s: added %s, already there %s",
        namespace,
        sorted(missing) or "none",
        sorted(k.name for k in SEARCH_ATTRIBUTES if k.name not in missing) or "none",
    )
    return sorted(missing)
