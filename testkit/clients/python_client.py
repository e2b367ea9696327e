"""A proxyless gRPC client in Python (C-core) driven over stdin/stdout, one JSON request per line:
{"id", "target", "metadata", "method", "count", "concurrent", "deadlineMs"} -> {"id", "results"}.
It reads its bootstrap from GRPC_XDS_BOOTSTRAP like any real application."""
import concurrent.futures
import json
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool

try:
    from google.protobuf.message_factory import GetMessageClass
except ImportError:  # protobuf < 4.21
    from google.protobuf.message_factory import MessageFactory

    _factory = MessageFactory()

    def GetMessageClass(descriptor):
        return _factory.GetPrototype(descriptor)


def _echo_messages():
    """WhoRequest and WhoReply from protos/etcd_xds/demo/v1/echo.proto, built in code."""
    F = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(name="etcd_xds/demo/v1/echo.proto", package="etcd_xds.demo.v1", syntax="proto3")
    request = file.message_type.add(name="WhoRequest")
    request.field.add(name="caller", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    reply = file.message_type.add(name="WhoReply")
    for number, name in enumerate(["service", "id", "version", "address"], start=1):
        reply.field.add(name=name, number=number, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry = reply.nested_type.add(name="HeadersEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    reply.field.add(name="headers", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                    type_name=".etcd_xds.demo.v1.WhoReply.HeadersEntry")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (GetMessageClass(pool.FindMessageTypeByName("etcd_xds.demo.v1.WhoRequest")),
            GetMessageClass(pool.FindMessageTypeByName("etcd_xds.demo.v1.WhoReply")))


WhoRequest, WhoReply = _echo_messages()
stubs = {}


channels = {}


def call(request):
    target = request["target"]
    method = request.get("method") or "/etcd_xds.demo.v1.Echo/Who"
    if target not in channels:
        channels[target] = grpc.insecure_channel(target)
    if (target, method) not in stubs:
        stubs[(target, method)] = channels[target].unary_unary(method,
                                                               request_serializer=WhoRequest.SerializeToString,
                                                               response_deserializer=WhoReply.FromString)
    metadata = list((request.get("metadata") or {}).items())
    try:
        reply = stubs[(target, method)](WhoRequest(caller="python"), metadata=metadata,
                              timeout=request.get("deadlineMs", 5000) / 1000.0)
        return {"ok": True, "id": reply.id, "version": reply.version, "address": reply.address}
    except grpc.RpcError as error:
        return {"ok": False, "code": error.code().value[0], "details": error.details() or ""}


def main():
    print(json.dumps({"ready": True, "client": "grpcio", "version": grpc.__version__}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        count = request.get("count", 1)
        if request.get("concurrent"):
            # All at once, each on a thread of its own, in request order.
            # Started 20 ms apart, so each sees the ones before it in flight.
            with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
                futures = []
                for i in range(count):
                    if i > 0:
                        time.sleep(0.02)
                    futures.append(pool.submit(call, request))
                results = [f.result() for f in futures]
        else:
            results = [call(request) for _ in range(count)]
        print(json.dumps({"id": request["id"], "results": results}), flush=True)


if __name__ == "__main__":
    main()
