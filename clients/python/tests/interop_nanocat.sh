#!/usr/bin/env bash
# Talks to a running Glimpse server with tools nobody here wrote: protoc encodes and decodes
# the envelopes, printf writes the frame header, nanocat (Debian nanomsg-utils, libnanomsg)
# carries it. No Glimpse code, Swift or Python, is involved on this side.
#
#   clients/python/tests/interop_nanocat.sh tcp://127.0.0.1:7000
#
# Exits non-zero, saying what differed, on any mismatch.
set -euo pipefail

url=${1:?usage: interop_nanocat.sh URL (e.g. tcp://127.0.0.1:7000 or ipc:///tmp/glimpse.ipc)}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
proto_root="$repo/proto"
proto=glimpse/v1/glimpse.proto
for tool in protoc nanocat od; do
    command -v "$tool" >/dev/null || { echo "interop: $tool is not installed (apt-get install protobuf-compiler nanomsg-utils)" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "interop: FAIL: $*" >&2; exit 1; }

encode() { protoc -I "$proto_root" --encode="glimpse.v1.$1" "$proto"; } # text on stdin → binary on stdout
decode() { protoc -I "$proto_root" --decode="glimpse.v1.$1" "$proto"; } # binary on stdin → text on stdout

# A file's bytes as a text-format string body: every byte as a 3-digit octal escape.
escape_bytes() { od -An -v -to1 "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//; s/ /\\/g; s/^./\\&/'; }

# A text-format bytes value (protoc's C escapes: \n \r \t \" \' \\ and \ooo; other bytes are
# printable ASCII as is) → the raw bytes. \\ is parked on \001, which protoc never prints raw,
# so the other escapes can be rewritten one by one; \ooo becomes \0ooo so that printf %b reads
# exactly three digits even when a digit follows.
unescape_bytes() {
    local s
    s=$(sed -e 's/\\\\/\x01/g' -e "s/\\\\\"/\"/g; s/\\\\'/'/g" -e 's/\\\([0-7]\{3\}\)/\\0\1/g' -e 's/\x01/\\\\/g')
    printf '%b' "$s"
}

# call NAME METHOD REQUEST_ID BODY_FILE: one request/reply through nanocat; leaves $work/NAME.envelope.txt
# (the decoded ResponseEnvelope) and $work/NAME.body (its body bytes).
call() {
    local name=$1 method=$2 id=$3 body_file=$4
    local body_text=""
    [ -s "$body_file" ] && body_text=$(escape_bytes "$body_file")
    printf 'method: "/glimpse.v1.Glimpse/%s"\nrequest_id: %s\ntimeout_ms: 10000\nbody: "%s"\n' \
        "$method" "$id" "$body_text" > "$work/$name.request.txt"
    { printf 'GLMP\001\001\000\000'; encode RequestEnvelope < "$work/$name.request.txt"; } > "$work/$name.frame"

    # nanocat exits 0 even when its receive times out, so an empty reply is checked below.
    nanocat --req --connect "$url" --file "$work/$name.frame" --raw --recv-timeout 10 > "$work/$name.reply" \
        || fail "$method: nanocat exited with $?"
    local size
    size=$(wc -c < "$work/$name.reply")
    [ "$size" -ge 8 ] || fail "$method: reply of $size bytes from $url (no reply within 10 s?)"

    local header
    header=$(head -c 8 "$work/$name.reply" | od -An -tx1 | tr -s ' ' | sed 's/^ //; s/ $//')
    [ "$header" = "47 4c 4d 50 01 02 00 00" ] || fail "$method: reply header is '$header', expected 47 4c 4d 50 01 02 00 00 (GLMP, v1, response, no flags)"

    tail -c +9 "$work/$name.reply" | decode ResponseEnvelope > "$work/$name.envelope.txt" \
        || fail "$method: reply envelope does not decode as glimpse.v1.ResponseEnvelope"
    grep -qx "request_id: $id" "$work/$name.envelope.txt" \
        || fail "$method: reply does not echo request_id $id:$(printf '\n'; cat "$work/$name.envelope.txt")"
    # proto3 text format omits a zero status: any status line is an error status.
    if grep -q '^status:' "$work/$name.envelope.txt"; then
        fail "$method: non-OK reply:$(printf '\n'; cat "$work/$name.envelope.txt")"
    fi
    sed -n 's/^body: "\(.*\)"$/\1/p' "$work/$name.envelope.txt" | unescape_bytes > "$work/$name.body"
}

# 1. ListModels: an empty request body; the reply's body lists lite0.
: > "$work/empty"
call list ListModels 41 "$work/empty"
decode ListModelsResponse < "$work/list.body" > "$work/list.txt" \
    || fail "ListModels: body does not decode as glimpse.v1.ListModelsResponse"
grep -q '^  name: "lite0"$' "$work/list.txt" || fail "ListModels: lite0 not listed:$(printf '\n'; cat "$work/list.txt")"
echo "interop: ListModels via nanocat lists: $(sed -n 's/^  name: "\(.*\)"$/\1/p' "$work/list.txt" | tr '\n' ' ')"

# 2. ModelMetadata: a non-empty body, encoded by protoc and carried as an escaped bytes string.
echo 'model: "lite0"' | encode ModelMetadataRequest > "$work/metadata.request.body"
call metadata ModelMetadata 42 "$work/metadata.request.body"
decode ModelMetadataResponse < "$work/metadata.body" > "$work/metadata.txt" \
    || fail "ModelMetadata: body does not decode as glimpse.v1.ModelMetadataResponse"
grep -qx 'name: "lite0"' "$work/metadata.txt" || fail "ModelMetadata(lite0): wrong name:$(printf '\n'; cat "$work/metadata.txt")"
grep -qx 'input_size: 224' "$work/metadata.txt" || fail "ModelMetadata(lite0): input_size is not 224:$(printf '\n'; cat "$work/metadata.txt")"
echo "interop: ModelMetadata(lite0) via nanocat: input_size 224"

# 3. Health: the server is still serving after both.
echo '' | encode HealthRequest > "$work/health.request.body"
call health Health 43 "$work/health.request.body"
decode HealthResponse < "$work/health.body" | grep -qx 'status: SERVING' || fail "Health: not SERVING"
echo "interop: Health via nanocat: SERVING"
echo "interop: OK ($url)"
