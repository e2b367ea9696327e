// The grpc-java proxyless xDS interop client: one JSON request per stdin line,
// {"id", "target", "metadata", "count", "deadlineMs"} -> {"id", "results"} on stdout, the same
// protocol as testkit/clients/node-client.ts. It reads its bootstrap from GRPC_XDS_BOOTSTRAP like
// any real application (grpc-xds on the classpath registers the xds: resolver).
package etcdxds.interop;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FieldDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.MessageOptions;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.internal.GrpcUtil;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;

public final class XdsClient {
  private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
  private static final Map<String, ManagedChannel> CHANNELS = new java.util.concurrent.ConcurrentHashMap<>();

  /** WhoRequest and WhoReply from protos/etcd_xds/demo/v1/echo.proto, built in code. */
  private static final Descriptor WHO_REQUEST;
  private static final Descriptor WHO_REPLY;

  static {
    FileDescriptorProto file = FileDescriptorProto.newBuilder()
        .setName("etcd_xds/demo/v1/echo.proto")
        .setPackage("etcd_xds.demo.v1")
        .setSyntax("proto3")
        .addMessageType(DescriptorProto.newBuilder().setName("WhoRequest").addField(string("caller", 1)))
        .addMessageType(DescriptorProto.newBuilder().setName("WhoReply")
            .addField(string("service", 1))
            .addField(string("id", 2))
            .addField(string("version", 3))
            .addField(string("address", 4))
            .addField(FieldDescriptorProto.newBuilder().setName("headers").setNumber(5)
                .setType(FieldDescriptorProto.Type.TYPE_MESSAGE)
                .setLabel(FieldDescriptorProto.Label.LABEL_REPEATED)
                .setTypeName(".etcd_xds.demo.v1.WhoReply.HeadersEntry"))
            .addNestedType(DescriptorProto.newBuilder().setName("HeadersEntry")
                .setOptions(MessageOptions.newBuilder().setMapEntry(true))
                .addField(string("key", 1))
                .addField(string("value", 2))))
        .build();
    try {
      FileDescriptor descriptor = FileDescriptor.buildFrom(file, new FileDescriptor[0]);
      WHO_REQUEST = descriptor.findMessageTypeByName("WhoRequest");
      WHO_REPLY = descriptor.findMessageTypeByName("WhoReply");
    } catch (DescriptorValidationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final String DEFAULT_METHOD = "/etcd_xds.demo.v1.Echo/Who";
  /** Calls made all at once are started this far apart, so each sees the ones before in flight. */
  private static final long STAGGER_MS = 20;
  /** Threads for calls made all at once ("concurrent": true). */
  private static final java.util.concurrent.ExecutorService CONCURRENT =
      java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r);
        t.setDaemon(true);
        return t;
      });
  private static final Map<String, MethodDescriptor<DynamicMessage, DynamicMessage>> METHODS =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** The descriptor of a unary Echo method (WhoRequest → WhoReply) by its path, /pkg.Service/Method. */
  private static MethodDescriptor<DynamicMessage, DynamicMessage> method(String path) {
    return METHODS.computeIfAbsent(path, p ->
        MethodDescriptor.<DynamicMessage, DynamicMessage>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(p.substring(1))
            .setRequestMarshaller(ProtoUtils.marshaller(DynamicMessage.getDefaultInstance(WHO_REQUEST)))
            .setResponseMarshaller(ProtoUtils.marshaller(DynamicMessage.getDefaultInstance(WHO_REPLY)))
            .build());
  }

  private static FieldDescriptorProto.Builder string(String name, int number) {
    return FieldDescriptorProto.newBuilder().setName(name).setNumber(number)
        .setType(FieldDescriptorProto.Type.TYPE_STRING)
        .setLabel(FieldDescriptorProto.Label.LABEL_OPTIONAL);
  }

  private static String field(DynamicMessage message, String name) {
    return (String) message.getField(message.getDescriptorForType().findFieldByName(name));
  }

  private static JsonObject call(String target, String path, Metadata headers, long deadlineMs) {
    ManagedChannel managed = CHANNELS.computeIfAbsent(
        target, t -> Grpc.newChannelBuilder(t, InsecureChannelCredentials.create()).build());
    Channel channel = ClientInterceptors.intercept(managed, MetadataUtils.newAttachHeadersInterceptor(headers));
    DynamicMessage request = DynamicMessage.newBuilder(WHO_REQUEST)
        .setField(WHO_REQUEST.findFieldByName("caller"), "java")
        .build();
    JsonObject result = new JsonObject();
    try {
      DynamicMessage reply = ClientCalls.blockingUnaryCall(
          channel, method(path), CallOptions.DEFAULT.withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS), request);
      result.addProperty("ok", true);
      result.addProperty("id", field(reply, "id"));
      result.addProperty("version", field(reply, "version"));
      result.addProperty("address", field(reply, "address"));
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      result.addProperty("ok", false);
      result.addProperty("code", status.getCode().value());
      result.addProperty("details", status.getDescription() == null ? "" : status.getDescription());
    }
    return result;
  }

  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(
        new FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
    JsonObject hello = new JsonObject();
    hello.addProperty("ready", true);
    hello.addProperty("client", "grpc-java");
    hello.addProperty("version", GrpcUtil.IMPLEMENTATION_VERSION);
    out.println(GSON.toJson(hello));
    out.flush();

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      JsonObject request = GSON.fromJson(line, JsonObject.class);
      Metadata headers = new Metadata();
      if (request.has("metadata") && request.get("metadata").isJsonObject()) {
        for (Map.Entry<String, JsonElement> entry : request.getAsJsonObject("metadata").entrySet()) {
          headers.put(Metadata.Key.of(entry.getKey(), Metadata.ASCII_STRING_MARSHALLER),
              entry.getValue().getAsString());
        }
      }
      int count = request.has("count") ? request.get("count").getAsInt() : 1;
      long deadlineMs = request.has("deadlineMs") ? request.get("deadlineMs").getAsLong() : 5_000;
      String target = request.get("target").getAsString();
      String path = request.has("method") ? request.get("method").getAsString() : DEFAULT_METHOD;
      JsonArray results = new JsonArray();
      if (request.has("concurrent") && request.get("concurrent").getAsBoolean()) {
        // All at once, each on a thread of its own (blocking stubs), in request order.
        java.util.List<java.util.concurrent.CompletableFuture<JsonObject>> calls = new java.util.ArrayList<>();
        for (int i = 0; i < count; i++) {
          if (i > 0) Thread.sleep(STAGGER_MS);
          calls.add(java.util.concurrent.CompletableFuture.supplyAsync(
              () -> call(target, path, headers, deadlineMs), CONCURRENT));
        }
        for (java.util.concurrent.CompletableFuture<JsonObject> c : calls) results.add(c.join());
      } else {
        for (int i = 0; i < count; i++) results.add(call(target, path, headers, deadlineMs));
      }
      JsonObject response = new JsonObject();
      response.add("id", request.get("id"));
      response.add("results", results);
      out.println(GSON.toJson(response));
      out.flush();
    }

    for (ManagedChannel channel : CHANNELS.values()) channel.shutdownNow();
    for (ManagedChannel channel : CHANNELS.values()) channel.awaitTermination(2, TimeUnit.SECONDS);
    out.flush();
    System.exit(0);
  }
}
