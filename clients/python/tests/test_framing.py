# Unit tests of the frame, the generated code and the client's helpers; no server needed.
import pathlib
import shutil
import subprocess

import pytest

from glimpse_client import FrameError, GlimpseError, ProtocolError, StatusCode, frame, glimpse_pb2 as pb, status_name
from glimpse_client.client import _deadline_ms, tensor_from_proto, tensor_to_proto

REPO = pathlib.Path(__file__).resolve().parents[3]
PROTO_ROOT = REPO / "proto"
PROTO = "glimpse/v1/glimpse.proto"


def health_envelope() -> pb.RequestEnvelope:
    return pb.RequestEnvelope(method="/glimpse.v1.Glimpse/Health", request_id=7, timeout_ms=5000,
                              body=pb.HealthRequest().SerializeToString())


def test_request_header_is_magic_version_kind_and_zero_flags():
    assert frame.header(frame.Kind.REQUEST) == b"GLMP\x01\x01\x00\x00"
    assert frame.encode_request(health_envelope())[:8] == bytes([0x47, 0x4C, 0x4D, 0x50, 1, 1, 0, 0])


def test_response_header_has_kind_2():
    assert frame.encode_response(pb.ResponseEnvelope(request_id=1))[:8] == b"GLMP\x01\x02\x00\x00"


def test_request_frame_is_header_then_envelope_bytes():
    envelope = health_envelope()
    data = frame.encode_request(envelope)
    assert data == b"GLMP\x01\x01\x00\x00" + envelope.SerializeToString()
    assert frame.decode_request(data) == envelope


def test_response_round_trips_with_metadata_and_body():
    body = pb.ListModelsResponse(models=[pb.ModelSummary(name="lite0", input_size=224)], default_model="lite0")
    envelope = pb.ResponseEnvelope(request_id=2**64 - 1, status=0, body=body.SerializeToString(),
                                   metadata={"glimpse-cache": "hit"})
    decoded = frame.decode_response(frame.encode_response(envelope))
    assert decoded == envelope
    assert pb.ListModelsResponse.FromString(decoded.body) == body


@pytest.mark.skipif(shutil.which("protoc") is None, reason="protoc is not installed (apt-get install protobuf-compiler)")
def test_envelope_bytes_match_protoc_encode():
    # An independent encoder: protoc's text format → binary must equal what the client sends after the header.
    text = 'method: "/glimpse.v1.Glimpse/Health"\nrequest_id: 7\ntimeout_ms: 5000\n'
    encoded = subprocess.run(["protoc", "-I", str(PROTO_ROOT), "--encode=glimpse.v1.RequestEnvelope", PROTO],
                             input=text.encode(), capture_output=True, check=True).stdout
    assert frame.encode_request(health_envelope())[8:] == encoded


@pytest.mark.parametrize("data, complaint", [
    (b"", "frame of 0 bytes is shorter than the 8-byte header"),
    (b"GLMP\x01\x02\x00", "frame of 7 bytes is shorter than the 8-byte header"),
    (b"GLMQ\x01\x02\x00\x00", 'frame starts with 47 4C 4D 51, not the magic 47 4C 4D 50 ("GLMP")'),
    (b"glmp\x01\x02\x00\x00", "not the magic"),
    (b"GLMP\x00\x02\x00\x00", "frame version 0 is not supported"),
    (b"GLMP\x02\x02\x00\x00", "frame version 2 is not supported"),
    (b"GLMP\x01\x01\x00\x00", "frame kind 1 where 2 (response) was expected"),
    (b"GLMP\x01\x03\x00\x00", "frame kind 3 where 2 (response) was expected"),
    (b"GLMP\x01\x02\x01\x00", "frame has unknown flags 0x1"),
    (b"GLMP\x01\x02\x00\x01", "frame has unknown flags 0x100"),  # flags are little-endian
    (b"GLMP\x01\x02\x00\x00\xff\xff", "frame envelope is not valid protobuf"),
])
def test_bad_response_frames_are_rejected(data, complaint):
    with pytest.raises(FrameError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        frame.decode_response(data)


def test_request_decoder_rejects_a_response_frame():
    with pytest.raises(FrameError, match="frame kind 2 where 1 \\(request\\) was expected"):
        frame.decode_request(frame.encode_response(pb.ResponseEnvelope()))


def test_empty_envelope_after_header_is_valid():
    # proto3: all fields default; a reply with nothing set is status OK, request id 0.
    assert frame.decode_response(b"GLMP\x01\x02\x00\x00") == pb.ResponseEnvelope()


@pytest.mark.skipif(shutil.which("protoc") is None, reason="protoc is not installed (apt-get install protobuf-compiler)")
def test_committed_python_code_matches_the_proto(tmp_path):
    # The generated module embeds the file's descriptor; protoc's descriptor of the .proto now must equal it,
    # or scripts/gen-proto-python.sh has to be run.
    from google.protobuf import descriptor_pb2

    out = tmp_path / "glimpse.desc"
    subprocess.run(["protoc", "-I", str(PROTO_ROOT), f"--descriptor_set_out={out}", PROTO], check=True)
    current = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    for message in current.message_type:  # protoc leaves json_name out of Python code; it carries no meaning here
        _clear_json_names(message)
    committed = descriptor_pb2.FileDescriptorProto.FromString(pb.DESCRIPTOR.serialized_pb)
    assert committed == current, "glimpse.proto changed: run scripts/gen-proto-python.sh"


def _clear_json_names(message) -> None:
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _clear_json_names(nested)


def test_status_names_follow_grpc():
    assert status_name(0) == "OK"
    assert status_name(3) == "INVALID_ARGUMENT"
    assert status_name(5) == "NOT_FOUND"
    assert status_name(14) == "UNAVAILABLE"
    assert status_name(99) == "STATUS_99"
    error = GlimpseError.from_code(5, "model 'lite9' not found")
    assert (error.status_code, error.status_name, error.message) == (5, "NOT_FOUND", "model 'lite9' not found")
    assert str(error) == "NOT_FOUND: model 'lite9' not found"
    assert ProtocolError("x").status_code == StatusCode.INTERNAL


def test_deadline_is_rounded_up_to_whole_milliseconds_and_fits_uint32():
    assert _deadline_ms(None) == 0
    assert _deadline_ms(5.0) == 5000
    assert _deadline_ms(0.0001) == 1
    assert _deadline_ms(1e12) == 2**32 - 1


def test_tensor_bytes_are_little_endian_row_major_float32():
    np = pytest.importorskip("numpy")
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = tensor_to_proto("x", a)
    assert (t.name, t.datatype, list(t.shape)) == ("x", pb.FP32, [2, 3])
    assert t.raw_contents == np.array([0, 1, 2, 3, 4, 5], dtype="<f4").tobytes()
    assert t.raw_contents[4:8] == b"\x00\x00\x80\x3f"  # 1.0f, little-endian
    back = tensor_from_proto(t)
    assert back.dtype == np.float32 and back.shape == (2, 3) and back.flags.writeable
    assert (back == a).all()


def test_tensor_with_wrong_byte_count_is_a_protocol_error():
    pytest.importorskip("numpy")
    with pytest.raises(ProtocolError, match="has 8 bytes of contents, expected 12"):
        tensor_from_proto(pb.Tensor(name="y", datatype=pb.FP32, shape=[3], raw_contents=b"\0" * 8))
    with pytest.raises(ProtocolError, match="datatype DATA_TYPE_UNSPECIFIED, expected FP32"):
        tensor_from_proto(pb.Tensor(name="y", shape=[1], raw_contents=b"\0" * 4))
