// The message descriptors of protos/etcd_xds/demo/v1/echo.proto (WhoRequest, WhoReply), built in
// code from a FileDescriptorProto so that no protoc or .proto file is needed at build or run time.
// Keep in step with the .proto; this file owns nothing else.
package main

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

func echoMessages() (whoRequest, whoReply protoreflect.MessageDescriptor, err error) {
	optional := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	repeated := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	stringType := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	messageType := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
	field := func(name string, number int32) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{
			Name: proto.String(name), JsonName: proto.String(name), Number: proto.Int32(number),
			Label: optional, Type: stringType,
		}
	}
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("etcd_xds/demo/v1/echo.proto"),
		Package: proto.String("etcd_xds.demo.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("WhoRequest"), Field: []*descriptorpb.FieldDescriptorProto{field("caller", 1)}},
			{
				Name: proto.String("WhoReply"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("service", 1), field("id", 2), field("version", 3), field("address", 4),
					{
						Name: proto.String("headers"), JsonName: proto.String("headers"), Number: proto.Int32(5),
						Label: repeated, Type: messageType,
						TypeName: proto.String(".etcd_xds.demo.v1.WhoReply.HeadersEntry"),
					},
				},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name:    proto.String("HeadersEntry"),
					Field:   []*descriptorpb.FieldDescriptorProto{field("key", 1), field("value", 2)},
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				}},
			},
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		return nil, nil, err
	}
	messages := fd.Messages()
	return messages.ByName("WhoRequest"), messages.ByName("WhoReply"), nil
}
