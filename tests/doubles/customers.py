"""The customer side of the Shopify double: customers with tags, metafields and email consent,
staged uploads and bulk mutations — each line of a bulk file is validated and executed on the
official schema, like any document the app sends.

``ShopResolvers`` (admin_graphql.py) inherits these resolvers; the double serves the staged-upload
target (``POST /staged-uploads``) and the result files (``GET /bulk-results/<n>.jsonl``).
"""

from __future__ import annotations

import itertools
import json
import uuid

import graphql

from plugin.demo.store import gid, gid_number

MAX_METAFIELDS = 25


class CustomerResolvers:
    """Mutation roots the customer sync uses, on ``self._state`` (a ``FakeShop``) and ``self._double``."""

    _state = None
    _double = None

    # -- customers -------------------------------------------------------------------------------
    def customerSet(self, info, input, identifier=None):
        customers = self._state.customers
        found = self._find(identifier or {})
        if identifier and identifier.get("id") and found is None:
            return {"customer": None, "userErrors": [{"field": ["identifier", "id"], "message": "Customer not found"}]}
        if found is None:
            found = {"id": next(_customer_ids), "email": None, "phone": None, "tags": [], "metafields": {},
                     "email_consent": None}
            customers[found["id"]] = found
        for name in ("email", "phone"):
            if input.get(name) is not None:
                found[name] = input[name]
        if input.get("tags") is not None:
            found["tags"] = list(input["tags"])  # customerSet replaces list fields
        return {"customer": self._customer(found), "userErrors": []}

    def tagsAdd(self, info, id, tags):
        return self._tags(id, lambda current: current + [t for t in tags if t not in current])

    def tagsRemove(self, info, id, tags):
        return self._tags(id, lambda current: [t for t in current if t not in tags])

    def metafieldsSet(self, info, metafields):
        if len(metafields) > MAX_METAFIELDS:
            return {"metafields": None, "userErrors": [{"field": ["metafields"], "message": "Exceeded the limit of 25"}]}
        owners = [self._state.customers.get(gid_number(m["ownerId"], "Customer")) for m in metafields]
        if any(owner is None for owner in owners):
            return {"metafields": None, "userErrors": [{"field": ["metafields"], "message": "Owner does not exist"}]}
        for owner, metafield in zip(owners, metafields):
            owner["metafields"][(metafield.get("namespace"), metafield["key"])] = (metafield.get("type"),
                                                                                  metafield["value"])
        return {"metafields": [], "userErrors": []}

    def customerEmailMarketingConsentUpdate(self, info, input):
        customer = self._state.customers.get(gid_number(input["customerId"], "Customer"))
        if customer is None:
            return {"customer": None, "userErrors": [{"field": ["input", "customerId"], "message": "Not found"}]}
        customer["email_consent"] = dict(input["emailMarketingConsent"])
        return {"customer": self._customer(customer), "userErrors": []}

    # -- bulk ------------------------------------------------------------------------------------
    def stagedUploadsCreate(self, info, input):
        targets = []
        for item in input:
            key = f"tmp/{uuid.uuid4().hex}/{item['filename']}"
            targets.append({"url": f"{self._double.url}/staged-uploads", "resourceUrl": f"{self._double.url}/{key}",
                            "parameters": [{"name": "key", "value": key},
                                           {"name": "Content-Type", "value": item["mimeType"]}]})
        return {"stagedTargets": targets, "userErrors": []}

    def bulkOperationRunMutation(self, info, mutation, stagedUploadPath, clientIdentifier=None, groupObjects=None):
        double = self._double
        content = double.uploads.get(stagedUploadPath)
        if content is None:
            return _bulk_error("stagedUploadPath", "The staged upload path is not valid")
        document, problems = _one_mutation(info.schema, mutation)
        if problems:
            double.validation_failures.extend(f"bulk: {p}" for p in problems)
            return _bulk_error("mutation", "; ".join(problems))
        out = []
        for number, line in enumerate(content.decode().splitlines()):
            result = graphql.execute(info.schema, document, root_value=self, variable_values=json.loads(line))
            if result.errors:
                double.validation_failures.extend(f"bulk line {number}: {e.message}" for e in result.errors)
            out.append({"data": result.data, "__lineNumber": number,
                        **({"errors": [e.formatted for e in result.errors]} if result.errors else {})})
        number = next(_operation_ids)
        double.bulk_results[number] = "".join(json.dumps(o) + "\n" for o in out)
        double.bulk_operations[number] = {"__typename": "BulkOperation", "id": gid("BulkOperation", number),
                                          "status": "COMPLETED", "errorCode": None, "objectCount": str(len(out)),
                                          "url": f"{double.url}/bulk-results/{number}.jsonl",
                                          "partialDataUrl": None, "mutation": mutation}
        return {"bulkOperation": {"id": gid("BulkOperation", number), "status": "CREATED"}, "userErrors": []}

    def _bulk_operation(self, value):
        return self._double.bulk_operations.get(gid_number(value, "BulkOperation"))

    # -- helpers ---------------------------------------------------------------------------------
    def _find(self, identifier: dict):
        customers = self._state.customers.values()
        if identifier.get("id"):
            return self._state.customers.get(gid_number(identifier["id"], "Customer"))
        for name in ("email", "phone"):
            if identifier.get(name):
                return next((c for c in customers if c[name] == identifier[name]), None)
        return None

    def _tags(self, id, change):
        customer = self._state.customers.get(gid_number(id, "Customer"))
        if customer is None:
            return {"node": None, "userErrors": [{"field": ["id"], "message": "Resource not found"}]}
        customer["tags"] = change(customer["tags"])
        return {"node": self._customer(customer), "userErrors": []}

    @staticmethod
    def _customer(record: dict) -> dict:
        return {"__typename": "Customer", "id": gid("Customer", record["id"])}


_customer_ids = itertools.count(7_000_001)
_operation_ids = itertools.count(1)


def _bulk_error(field: str, message: str) -> dict:
    return {"bulkOperation": None, "userErrors": [{"field": [field], "message": message, "code": "INVALID_MUTATION"}]}


def _one_mutation(schema, text: str):
    try:
        document = graphql.parse(text)
    except graphql.GraphQLError as err:
        return None, [err.message]
    problems = [e.message for e in graphql.validate(schema, document)]
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != graphql.OperationType.MUTATION or \
            len(operations[0].selection_set.selections) != 1:
        problems.append("a bulk mutation runs exactly one mutation field")
    return document, problems
