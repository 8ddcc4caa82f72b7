"""The part of the SARIF 2.1.0 schema (OASIS, draft-04) that zdmigrate's output uses.

Each definition lists the properties the official schema allows (objects are
``additionalProperties: false`` there), the required ones, and the type or
enum of the fields zdmigrate fills. ``check`` walks a document against it.
"""

from __future__ import annotations

from typing import Any

LEVELS = ["none", "note", "warning", "error"]

SCHEMA: dict[str, dict[str, Any]] = {
    "sarifLog": {
        "allowed": {"$schema", "version", "runs", "inlineExternalProperties", "properties"},
        "required": {"version", "runs"},
        "fields": {"version": ["2.1.0"], "$schema": str, "runs": ["run"]},
    },
    "run": {
        "allowed": {
            "tool",
            "invocations",
            "conversion",
            "language",
            "versionControlProvenance",
            "originalUriBaseIds",
            "artifacts",
            "logicalLocations",
            "graphs",
            "results",
            "automationDetails",
            "runAggregates",
            "baselineGuid",
            "redactionTokens",
            "defaultEncoding",
            "defaultSourceLanguage",
            "newlineSequences",
            "columnKind",
            "externalPropertyFileReferences",
            "threadFlowLocations",
            "taxonomies",
            "addresses",
            "translations",
            "policies",
            "webRequests",
            "webResponses",
            "specialLocations",
            "properties",
        },
        "required": {"tool"},
        "fields": {
            "tool": "tool",
            "results": ["result"],
            "columnKind": ["utf16CodeUnits", "unicodeCodePoints"],
        },
    },
    "tool": {
        "allowed": {"driver", "extensions", "properties"},
        "required": {"driver"},
        "fields": {"driver": "toolComponent"},
    },
    "toolComponent": {
        "allowed": {
            "guid",
            "name",
            "organization",
            "product",
            "productSuite",
            "shortDescription",
            "fullDescription",
            "fullName",
            "version",
            "semanticVersion",
            "dottedQuadFileVersion",
            "releaseDateUtc",
            "downloadUri",
            "informationUri",
            "globalMessageStrings",
            "notifications",
            "rules",
            "taxa",
            "locations",
            "language",
            "contents",
            "isComprehensive",
            "localizedDataSemanticVersion",
            "minimumRequiredLocalizedDataSemanticVersion",
            "associatedComponent",
            "translationMetadata",
            "supportedTaxonomies",
            "properties",
        },
        "required": {"name"},
        "fields": {"name": str, "version": str, "rules": ["reportingDescriptor"]},
    },
    "reportingDescriptor": {
        "allowed": {
            "id",
            "deprecatedIds",
            "guid",
            "deprecatedGuids",
            "name",
            "deprecatedNames",
            "shortDescription",
            "fullDescription",
            "messageStrings",
            "defaultConfiguration",
            "helpUri",
            "help",
            "relationships",
            "properties",
        },
        "required": {"id"},
        "fields": {
            "id": str,
            "name": str,
            "shortDescription": "multiformatMessageString",
            "fullDescription": "multiformatMessageString",
            "help": "multiformatMessageString",
            "defaultConfiguration": "reportingConfiguration",
            "properties": "propertyBag",
        },
    },
    "multiformatMessageString": {
        "allowed": {"text", "markdown", "properties"},
        "required": {"text"},
        "fields": {"text": str, "markdown": str},
    },
    "reportingConfiguration": {
        "allowed": {"enabled", "level", "rank", "parameters", "properties"},
        "required": set(),
        "fields": {"level": LEVELS},
    },
    "propertyBag": {"allowed": None, "required": set(), "fields": {"tags": [str]}},
    "result": {
        "allowed": {
            "ruleId",
            "ruleIndex",
            "rule",
            "kind",
            "level",
            "message",
            "analysisTarget",
            "locations",
            "guid",
            "correlationGuid",
            "occurrenceCount",
            "partialFingerprints",
            "fingerprints",
            "stacks",
            "codeFlows",
            "graphs",
            "graphTraversals",
            "relatedLocations",
            "suppressions",
            "baselineState",
            "rank",
            "attachments",
            "hostedViewerUri",
            "workItemUris",
            "provenance",
            "fixes",
            "taxa",
            "webRequest",
            "webResponse",
            "properties",
        },
        "required": {"message"},
        "fields": {
            "ruleId": str,
            "ruleIndex": int,
            "level": LEVELS,
            "message": "message",
            "locations": ["location"],
        },
    },
    "message": {
        "allowed": {"text", "markdown", "id", "arguments", "properties"},
        "required": {"text"},
        "fields": {"text": str},
    },
    "location": {
        "allowed": {
            "id",
            "physicalLocation",
            "logicalLocations",
            "message",
            "annotations",
            "relationships",
            "properties",
        },
        "required": set(),
        "fields": {"physicalLocation": "physicalLocation"},
    },
    "physicalLocation": {
        "allowed": {"address", "artifactLocation", "region", "contextRegion", "properties"},
        "required": {"artifactLocation"},
        "fields": {"artifactLocation": "artifactLocation", "region": "region"},
    },
    "artifactLocation": {
        "allowed": {"uri", "uriBaseId", "index", "description", "properties"},
        "required": set(),
        "fields": {"uri": str},
    },
    "region": {
        "allowed": {
            "startLine",
            "startColumn",
            "endLine",
            "endColumn",
            "charOffset",
            "charLength",
            "byteOffset",
            "byteLength",
            "snippet",
            "message",
            "sourceLanguage",
            "properties",
        },
        "required": set(),
        "fields": {"startLine": int, "startColumn": int},
    },
}


def _value(value: Any, spec: Any, where: str) -> None:
    if isinstance(spec, str):
        check(value, spec, where)
    elif spec in (str, int):
        assert isinstance(value, spec) and not isinstance(value, bool), f"{where}: not {spec}"
        if spec is int and where.endswith(("startLine", "startColumn")):
            assert value >= 1, f"{where}: below 1"
    elif (
        isinstance(spec, list)
        and spec
        and all(isinstance(s, str) for s in spec)
        and (spec[0] not in SCHEMA)
    ):
        assert value in spec, f"{where}: {value!r} not in {spec}"
    else:
        assert isinstance(value, list), f"{where}: not an array"
        for i, item in enumerate(value):
            _value(item, spec[0], f"{where}[{i}]")


def check(doc: Any, definition: str = "sarifLog", where: str = "$") -> None:
    """Assert that ``doc`` is valid for ``definition``."""
    rules = SCHEMA[definition]
    assert isinstance(doc, dict), f"{where}: not an object"
    if rules["allowed"] is not None:
        extra = set(doc) - rules["allowed"]
        assert not extra, f"{where} ({definition}): properties not in the schema: {extra}"
    missing = rules["required"] - set(doc)
    assert not missing, f"{where} ({definition}): missing {missing}"
    for key, spec in rules["fields"].items():
        if key in doc:
            _value(doc[key], spec, f"{where}.{key}")
