// A proxyless gRPC client in Go (grpc-go) driven over stdin/stdout, one JSON request per line:
// {"id", "target", "metadata", "count", "deadlineMs"} -> {"id", "results"}; the same protocol as
// testkit/clients/node-client.ts and testkit/clients/python_client.py. It reads its bootstrap from
// GRPC_XDS_BOOTSTRAP like any real application. This file owns the driver loop and the calls.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and the xDS balancers
)

const defaultMethod = "/etcd_xds.demo.v1.Echo/Who"

type callRequest struct {
	ID         int64             `json:"id"`
	Target     string            `json:"target"`
	Metadata   map[string]string `json:"metadata"`
	Method     string            `json:"method"`
	Count      *int              `json:"count"`
	Concurrent bool              `json:"concurrent"`
	DeadlineMs *int64            `json:"deadlineMs"`
}

// callResult marshals as {"ok":true,"id","version","address"} or {"ok":false,"code","details"}.
type callResult struct {
	OK      bool    `json:"ok"`
	ID      *string `json:"id,omitempty"`
	Version *string `json:"version,omitempty"`
	Address *string `json:"address,omitempty"`
	Code    *int    `json:"code,omitempty"`
	Details *string `json:"details,omitempty"`
}

type callResponse struct {
	ID      int64        `json:"id"`
	Results []callResult `json:"results"`
}

var (
	whoRequest, whoReply protoreflect.MessageDescriptor

	connsMu sync.Mutex
	conns   = map[string]*grpc.ClientConn{}

	outMu sync.Mutex
	out   = bufio.NewWriter(os.Stdout)
)

// conn returns the channel for a target, made once and kept for the life of the process.
func conn(target string) (*grpc.ClientConn, error) {
	connsMu.Lock()
	defer connsMu.Unlock()
	if cc, ok := conns[target]; ok {
		return cc, nil
	}
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	conns[target] = cc
	return cc, nil
}

func str(s string) *string { return &s }

func call(req *callRequest, deadline time.Duration) callResult {
	cc, err := conn(req.Target)
	if err != nil {
		// An unparseable target: report it like a failed call (INVALID_ARGUMENT-ish, code 3).
		code := 3
		return callResult{OK: false, Code: &code, Details: str(err.Error())}
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for k, v := range req.Metadata {
		ctx = metadata.AppendToOutgoingContext(ctx, k, v)
	}
	request := dynamicpb.NewMessage(whoRequest)
	request.Set(whoRequest.Fields().ByName("caller"), protoreflect.ValueOfString("go"))
	reply := dynamicpb.NewMessage(whoReply)
	method := req.Method
	if method == "" {
		method = defaultMethod
	}
	if err := cc.Invoke(ctx, method, request, reply); err != nil {
		st := status.Convert(err)
		code := int(st.Code())
		return callResult{OK: false, Code: &code, Details: str(st.Message())}
	}
	get := func(name protoreflect.Name) *string {
		return str(reply.Get(whoReply.Fields().ByName(name)).String())
	}
	return callResult{OK: true, ID: get("id"), Version: get("version"), Address: get("address")}
}

func writeLine(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	out.Write(line)
	out.WriteByte('\n')
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "stdout:", err)
		os.Exit(1)
	}
}

// handle runs one request line: count calls (sequential, or all at once with concurrent), then
// one response line.
func handle(line []byte) {
	var req callRequest
	if err := json.Unmarshal(line, &req); err != nil {
		fmt.Fprintf(os.Stderr, "bad request line %q: %v\n", line, err)
		os.Exit(2)
	}
	count := 1
	if req.Count != nil {
		count = *req.Count
	}
	deadline := 5000 * time.Millisecond
	if req.DeadlineMs != nil {
		deadline = time.Duration(*req.DeadlineMs) * time.Millisecond
	}
	results := make([]callResult, count)
	if req.Concurrent {
		var wg sync.WaitGroup
		for i := 0; i < count; i++ {
			if i > 0 {
				// Started 20 ms apart, so each sees the ones before it in flight.
				time.Sleep(20 * time.Millisecond)
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = call(&req, deadline)
			}(i)
		}
		wg.Wait()
	} else {
		for i := 0; i < count; i++ {
			results[i] = call(&req, deadline)
		}
	}
	writeLine(callResponse{ID: req.ID, Results: results})
}

func main() {
	var err error
	if whoRequest, whoReply, err = echoMessages(); err != nil {
		fmt.Fprintln(os.Stderr, "echo descriptors:", err)
		os.Exit(1)
	}
	writeLine(struct {
		Ready   bool   `json:"ready"`
		Client  string `json:"client"`
		Version string `json:"version"`
	}{true, "grpc-go", grpc.Version})

	// Lines are handled concurrently (as the grpc-js client does); calls within a line are
	// sequential. At EOF, finish the lines in flight, then exit 0.
	var wg sync.WaitGroup
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 && len(trimSpace(line)) > 0 {
			wg.Add(1)
			go func(l []byte) { defer wg.Done(); handle(l) }(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "stdin:", err)
			os.Exit(1)
		}
	}
	wg.Wait()
	os.Exit(0)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
