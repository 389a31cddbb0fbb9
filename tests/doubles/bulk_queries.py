"""Bulk queries in the Shopify double: ``bulkOperationRunQuery`` executed for real.

The inner query string is parsed and validated on the official schema like any document, then
checked against the bulk query rules Shopify states (one query operation; at least one connection,
at most five; connections nested at most two levels; no top-level ``node``/``nodes``; the node
holding a nested connection selects ``id``) — a breach is a ``userErrors`` answer *and* a recorded
validation failure, so the test fails. A valid query runs over the in-memory shop with connections
unpaged (bulk ignores ``first``), and its result becomes JSONL the way Shopify writes it: one line
per connection node, nested connections pulled out into their own lines carrying ``__parentId``,
children right after their parent when ``groupObjects`` is true.

One bulk query runs at a time per shop: starting another while one is CREATED/RUNNING answers
``OPERATION_IN_PROGRESS``. An operation reports RUNNING for ``double.bulk_query_polls`` polls, then
finishes with ``double.bulk_query_outcome`` (COMPLETED by default; FAILED/CANCELED serve the first
``partial_lines`` lines at ``partialDataUrl``). Result URLs are signed: ``expire_bulk_urls()``
makes every URL issued so far answer 403, and the next poll hands out a fresh one.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass

import graphql

from plugin.demo import search
from plugin.demo.store import gid, gid_number

MAX_CONNECTIONS, MAX_DEPTH = 5, 2
RUNNING_STATES = ("CREATED", "RUNNING")


@dataclass
class BulkQueryOutcome:
    status: str = "COMPLETED"  # or FAILED / CANCELED
    error_code: str | None = None  # ACCESS_DENIED / INTERNAL_SERVER_ERROR / TIMEOUT
    partial_lines: int | None = None  # FAILED/CANCELED: how many lines partialDataUrl serves (None: no data)


class BulkQueryResolvers:
    """``bulkOperationRunQuery``, ``bulkOperation`` and ``currentBulkOperation`` on ``self._double``."""

    _state = None
    _double = None

    def bulkOperationRunQuery(self, info, query, groupObjects):
        double = self._double
        document, problems = parse_bulk_query(info.schema, query)
        if problems:
            double.validation_failures.extend(f"bulk query: {p}" for p in problems)
            return _run_error("query", "; ".join(problems), "INVALID")
        with double._lock:
            running = self._current("QUERY")
            if running is not None and running["status"] in RUNNING_STATES:
                return _run_error(None, f"A bulk query operation for this app and shop is already in progress: "
                                        f"{running['id']}.", "OPERATION_IN_PROGRESS")
            number = next(bulk_operation_ids)
            operation = {"__typename": "BulkOperation", "id": gid("BulkOperation", number), "type": "QUERY",
                         "status": "CREATED", "errorCode": None, "query": query, "shop": self._state.domain,
                         "objectCount": "0", "rootObjectCount": "0", "fileSize": None, "url": None,
                         "partialDataUrl": None, "createdAt": "2026-01-01T00:00:00Z", "completedAt": None,
                         "_lines": None, "_polls_left": double.bulk_query_polls,
                         "_outcome": double.bulk_query_outcome}
            double.bulk_operations[number] = operation
        # Like Shopify, the query runs in the background: the mutation answers at once.
        runner = threading.Thread(target=self._execute, args=(info.schema, document, groupObjects, operation),
                                  daemon=True)
        operation["_thread"] = runner
        runner.start()
        return {"bulkOperation": _public(operation), "userErrors": []}

    def _execute(self, schema, document, group_objects: bool, operation: dict) -> None:
        double = self._double
        result = graphql.execute(schema, document, root_value=self, context_value={"bulk": True})
        if result.errors:
            double.execution_errors.extend(e.message for e in result.errors)
        lines = flatten(schema, document, result.data or {})
        if not group_objects:  # Shopify promises no order then: the worst case, every child after every parent
            lines = [line for line in lines if "__parentId" not in line] + [line for line in lines if
                                                                              "__parentId" in line]
        with double._lock:
            number = gid_number(operation["id"], "BulkOperation")
            double.bulk_results[number] = lines_text(double.bulk_result_edit(lines) if double.bulk_result_edit
                                                     else lines)
            operation["_lines"] = lines

    def bulkOperation(self, info, id):
        return self._bulk_operation(id)

    def currentBulkOperation(self, info, type="QUERY"):
        with self._double._lock:
            current = self._current(type)
        return self._bulk_operation(current["id"]) if current is not None else None

    def _bulk_operation(self, value):
        with self._double._lock:
            operation = self._double.bulk_operations.get(gid_number(value, "BulkOperation"))
        if operation is None or operation.get("type") != "QUERY":
            return operation  # the customer sync's bulk mutations finish at once
        if operation["shop"] != self._state.domain:
            return None  # another shop's operation is not visible
        if operation.get("_thread") is not None:
            operation["_thread"].join(POLL_JOIN_SECONDS)  # small queries are done by their first poll
        with self._double._lock:
            return self._poll(operation)

    def _current(self, kind: str):
        mine = [op for op in self._double.bulk_operations.values()
                if op.get("type") == kind and op.get("shop") == self._state.domain]
        return mine[-1] if mine else None

    def _poll(self, operation: dict) -> dict:
        """Advance a query operation by one poll and answer its public fields (fresh signed URLs)."""
        double = self._double
        if operation["status"] in RUNNING_STATES:
            if operation["_lines"] is None:  # still executing
                operation["status"] = "RUNNING"
            elif operation["_polls_left"] > 0:
                operation["_polls_left"] -= 1
                operation["status"] = "RUNNING"
                operation["objectCount"] = str(len(operation["_lines"]) // 2)
            else:
                _finish(double, operation)
        answer = _public(operation)
        number = gid_number(operation["id"], "BulkOperation")
        if operation["status"] == "COMPLETED":
            answer["url"] = double.signed_result_url(number)
        elif operation.get("_partial") is not None:
            answer["partialDataUrl"] = double.signed_result_url(number, partial=True)
        return answer


def _finish(double, operation: dict) -> None:
    outcome: BulkQueryOutcome = operation["_outcome"] or BulkQueryOutcome()
    lines = operation["_lines"]
    number = gid_number(operation["id"], "BulkOperation")
    operation["status"], operation["errorCode"] = outcome.status, outcome.error_code
    operation["completedAt"] = "2026-01-01T00:00:05Z" if outcome.status == "COMPLETED" else None
    if outcome.status == "COMPLETED":
        operation["objectCount"] = str(len(lines))
        operation["rootObjectCount"] = str(sum(1 for line in lines if "__parentId" not in line))
        operation["fileSize"] = str(len(double.bulk_results[number].encode()))
    elif outcome.partial_lines is not None:
        kept = lines[: outcome.partial_lines]
        operation["_partial"] = True
        operation["objectCount"] = str(len(kept))
        double.bulk_partial_results[number] = lines_text(kept)


def _public(operation: dict) -> dict:
    return {k: v for k, v in operation.items() if k == "__typename" or not (k.startswith("_") or k == "shop")}


POLL_JOIN_SECONDS = 5.0


def _run_error(field, message: str, code: str) -> dict:
    return {"bulkOperation": None, "userErrors": [{"field": [field] if field else None, "message": message,
                                                   "code": code}]}


def lines_text(lines: list) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line, separators=(",", ":"))) + "\n"
                   for line in lines)


bulk_operation_ids = itertools.count(900_001)

# -- the rules ---------------------------------------------------------------------------------------


def parse_bulk_query(schema: graphql.GraphQLSchema, text: str):
    """The parsed document and every reason Shopify would refuse it as a bulk query."""
    try:
        document = graphql.parse(text)
    except graphql.GraphQLError as err:
        return None, [f"syntax: {err.message}"]
    problems = [e.message for e in graphql.validate(schema, document)]
    operations = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation != graphql.OperationType.QUERY:
        return document, problems + ["a bulk query holds exactly one query operation"]
    if problems:
        return document, problems
    fragments = _fragments(document)
    rules = _Rules(schema, fragments)
    for field, _definition in _fields(operations[0].selection_set, schema.query_type, schema, fragments):
        if field.name.value in ("node", "nodes"):
            rules.problems.append(f"The top-level `{field.name.value}` field can't be used in a bulk query.")
    rules.walk(operations[0].selection_set, schema.query_type, depth=0, parent_selects_id=True)
    if rules.connections == 0:
        rules.problems.append("Bulk queries must contain at least one connection.")
    if rules.connections > MAX_CONNECTIONS:
        rules.problems.append(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
    return document, rules.problems


class _Rules:
    def __init__(self, schema, fragments):
        self.schema, self.fragments = schema, fragments
        self.connections, self.problems = 0, []

    def walk(self, selection_set, parent_type, depth: int, parent_selects_id: bool) -> None:
        for field, definition in _fields(selection_set, parent_type, self.schema, self.fragments):
            named = graphql.get_named_type(definition.type)
            if _is_connection(named):
                self.connections += 1
                if depth + 1 > MAX_DEPTH:
                    self.problems.append(f"Bulk queries cannot contain connections with a nesting depth greater "
                                         f"than {MAX_DEPTH} (`{field.name.value}`).")
                if depth >= 1 and not parent_selects_id:
                    self.problems.append(f"The parent 'node' field for a nested connection must select the 'id' "
                                         f"field (`{field.name.value}`).")
                for node_selection, node_type in _connection_nodes(field, named):
                    selects_id = any(f.name.value == "id" and f.alias is None for f, _ in
                                     _fields(node_selection, node_type, self.schema, self.fragments))
                    self.walk(node_selection, node_type, depth + 1, selects_id)
            elif field.selection_set is not None:
                self.walk(field.selection_set, named, depth, parent_selects_id)


def _fragments(document) -> dict:
    return {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}


def _fields(selection_set, parent_type, schema, fragments):
    """(FieldNode, field definition) of a selection set, fragments spread in; __typename skipped."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, graphql.FieldNode):
            definition = getattr(parent_type, "fields", {}).get(selection.name.value)
            if definition is not None:
                yield selection, definition
        else:
            if isinstance(selection, graphql.FragmentSpreadNode):
                fragment = fragments[selection.name.value]
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                condition, inner = selection.type_condition, selection.selection_set
            yield from _fields(inner, schema.get_type(condition.name.value) if condition else parent_type, schema,
                               fragments)


def _is_connection(named) -> bool:
    return isinstance(named, graphql.GraphQLObjectType) and named.name.endswith("Connection") and \
        "nodes" in named.fields


def _connection_nodes(field: graphql.FieldNode, connection):
    """(selection set, type) of the nodes a connection field asks for (``nodes`` or ``edges { node }``)."""
    node_type = graphql.get_named_type(connection.fields["nodes"].type)
    for selection in field.selection_set.selections if field.selection_set else ():
        if isinstance(selection, graphql.FieldNode) and selection.name.value == "nodes":
            yield selection.selection_set, node_type
        elif isinstance(selection, graphql.FieldNode) and selection.name.value == "edges":
            for inner in selection.selection_set.selections:
                if isinstance(inner, graphql.FieldNode) and inner.name.value == "node":
                    yield inner.selection_set, node_type


# -- the JSONL -----------------------------------------------------------------------------------------


def flatten(schema, document, data: dict) -> list[dict]:
    """The result as Shopify's JSONL objects: connection nodes as lines, children after their parent."""
    operation = next(d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode))
    fragments = _fragments(document)
    out: list[dict] = []
    _strip(data, operation.selection_set, schema.query_type, schema, fragments, None, out)
    return out


def _strip(value, selection_set, parent_type, schema, fragments, parent_id, out) -> dict:
    """``value`` without its connections; their nodes (and their children) are appended to ``out``."""
    copy, children = dict(value), []
    for field, definition in _fields(selection_set, parent_type, schema, fragments):
        key = field.alias.value if field.alias else field.name.value
        if copy.get(key) is None:
            continue
        named = graphql.get_named_type(definition.type)
        if _is_connection(named):
            connection = copy.pop(key)
            nodes = connection.get("nodes")
            if nodes is None:
                nodes = [edge["node"] for edge in connection.get("edges") or []]
            node_selection, node_type = next(_connection_nodes(field, named))
            children.append((nodes, node_selection, node_type))
        elif field.selection_set is not None:
            if isinstance(copy[key], list):
                copy[key] = [_strip(v, field.selection_set, named, schema, fragments, parent_id, out)
                             if isinstance(v, dict) else v for v in copy[key]]
            else:
                copy[key] = _strip(copy[key], field.selection_set, named, schema, fragments, parent_id, out)
    for nodes, node_selection, node_type in children:
        for node in nodes:
            grandchildren: list[dict] = []
            line = _strip(node, node_selection, node_type, schema, fragments, node.get("id"), grandchildren)
            out.append({**line, "__parentId": parent_id} if parent_id else line)
            out.extend(grandchildren)
    return copy


# -- search syntax (the part the app uses) -----------------------------------------------------------

def matches_id_search(query: str | None, number: int) -> bool:
    """Shopify's search syntax over ``id`` alone (``id:N``, ``id:>=N``… with AND/OR/NOT and
    parentheses), read by the demo stand-in's parser; a term on any other field is an error."""
    return search.matches(query or "", {"id": number}, fields=frozenset({"id"}))
