"""What an incoming webhook rule does with a payload, without Odoo: depth and schema checks, JSON
pointers, a sample matching a schema, and the signed ``curl`` call shown on the rule's Try It tab."""
import functools
import json
import shlex

import jsonschema

# deeper payloads are refused before anything walks them recursively
MAX_DEPTH = 64
# a large bad payload must not cost one error per item
MAX_SCHEMA_ERRORS = 20


@functools.lru_cache(maxsize=64)
def schema_validator(schema_text):
    """A compiled JSON Schema validator per schema text; an edited schema's old one ages out."""
    return jsonschema.Draft202012Validator(json.loads(schema_text))


def json_depth(value):
    """Nesting depth of a parsed JSON value, without recursion."""
    depth, level = 0, [(value, 1)]
    while level:
        item, current = level.pop()
        depth = max(depth, current)
        if isinstance(item, dict):
            level.extend((child, current + 1) for child in item.values())
        elif isinstance(item, list):
            level.extend((child, current + 1) for child in item)
    return depth


def schema_example(schema, depth=0):
    """A value matching a (simple) JSON Schema: examples, const, enum and types are followed."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((item for item in kind if item != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        return {name: schema_example(sub, depth + 1) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [schema_example(schema.get("items", {}), depth + 1)]
    if kind == "string":
        return {"date-time": "2025-01-31T12:00:00Z", "date": "2025-01-31", "email": "jane@example.com",
                "uri": "https://example.com"}.get(schema.get("format"), "string")
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return schema.get("minimum", 1.5)
    if kind == "boolean":
        return True
    return None


def resolve_json_pointer(document, pointer):
    """RFC 6901 lookup; ``None`` when the pointer leads nowhere."""
    if pointer in ("", None):
        return document
    if not pointer.startswith("/"):
        return None
    current = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and token.isdigit() and int(token) < len(current):
            current = current[int(token)]
        else:
            return None
    return current


def curl_example(url, body, mode, hmac_settings=None, dedupe_source=None):
    """Shell lines that sign ``body`` as a rule of authentication ``mode`` checks it; secrets stay
    placeholders. ``mode`` is a rule's mode, or ``stripe`` for its HMAC Stripe preset;
    ``hmac_settings`` is ``(header, encoding, prefix, algorithm)`` for the other HMAC presets."""
    lines = [f"BODY={shlex.quote(body)}"]
    headers = ['-H "Content-Type: application/json"']
    if mode == "standard_webhooks":
        lines += [
            "SECRET='whsec_...'  # the rule's signing secret (Webhook Security tab: Reveal secret)",
            'ID="msg_$(date +%s)$RANDOM"',
            "TS=$(date +%s)",
            "KEY=$(printf '%s' \"${SECRET#whsec_}\" | base64 -d | od -An -tx1 | tr -d ' \\n')",
            "SIG=$(printf '%s' \"$ID.$TS.$BODY\" | openssl dgst -sha256 -mac HMAC -macopt \"hexkey:$KEY\" "
            "-binary | base64)",
        ]
        headers.append('-H "webhook-id: $ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG"')
    elif mode == "stripe":
        lines += [
            "SECRET='...'  # the rule's signing secret (Stripe's whsec_... endpoint secret)",
            "TS=$(date +%s)",
            "SIG=$(printf '%s' \"$TS.$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" | awk '{print $NF}')",
        ]
        headers.append('-H "Stripe-Signature: t=$TS,v1=$SIG"')
    elif mode == "hmac":
        header, encoding, prefix, algorithm = hmac_settings
        digest = "-binary | base64" if encoding == "base64" else "| awk '{print $NF}'"
        lines += [
            "SECRET='...'  # the rule's signing secret (Webhook Security tab: Reveal secret)",
            f"SIG=$(printf '%s' \"$BODY\" | openssl dgst -{algorithm} -hmac \"$SECRET\" {digest})",
        ]
        headers.append(f'-H "{header}: {prefix}$SIG"')
    elif mode == "api_key":
        lines.append("KEY='...'  # an API key (Preferences > Account Security); the actions run as its user")
        headers.append('-H "Authorization: bearer $KEY"')
    if dedupe_source == "idempotency_key":
        headers.append('-H "Idempotency-Key: $(date +%s)$RANDOM"')
    elif dedupe_source == "webhook_id" and mode != "standard_webhooks":
        headers.append('-H "webhook-id: msg_$(date +%s)$RANDOM"')
    command = [f"curl -sS -X POST {shlex.quote(url)}", *headers, '--data-binary "$BODY"']
    return "\n".join(lines + [" \\\n  ".join(command)])
