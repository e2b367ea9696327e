package main

// Parsing of one etcd registration value, with the same acceptance rules as the TypeScript
// server (src/registry/instance.ts, src/registry/address.ts, src/registry/names.ts), so both
// servers build their endpoints from the same set of instances.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits shared with the TypeScript server.
const (
	maxRegistrationBytes = 64 * 1024
	maxInstanceWeight    = 10_000
	maxZoneLength        = 128 // UTF-16 code units, as JavaScript counts string length
	maxIDLength          = 253
)

var (
	// Service names become resource names; `/` separates a service from its version.
	serviceNamePattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9_])?$`)
	versionPattern     = regexp.MustCompile(`^[A-Za-z0-9._+~-]{1,128}$`)
	portPattern        = regexp.MustCompile(`^[0-9]{1,5}$`)
	bracketedPattern   = regexp.MustCompile(`^\[([^\]]+)\]:([0-9]+)$`)
)

// instance is one accepted registration.
type instance struct {
	// key is the etcd key the instance is registered under (unique).
	key     string
	service string
	// version is "" when the registration names none: such an instance is only in cluster S.
	version string
	ip      string
	port    uint32
	// address is "ip:port", or "[ip]:port" for IPv6: the sort key of endpoints and the
	// identity used to drop duplicate registrations of one address.
	address string
	weight  uint32
	zone    string
}

// parseInstance turns an etcd key and value into an instance, or says why it cannot. It
// accepts the flat form {"name":..,"address":..,...} and the envelope {"node":{...}}.
func parseInstance(key string, value []byte) (*instance, error) {
	if len(value) > maxRegistrationBytes {
		return nil, fmt.Errorf("value is %d bytes, more than the limit of %d", len(value), maxRegistrationBytes)
	}
	if !utf8.Valid(value) {
		return nil, errors.New("value is not valid UTF-8")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(value, &top); err != nil || top == nil {
		if !json.Valid(value) {
			return nil, errors.New("value is not valid JSON")
		}
		return nil, errors.New("value must be a JSON object")
	}
	body := top
	if node, ok := top["node"]; ok {
		switch firstByte(node) {
		case '{':
			body = nil
			if err := json.Unmarshal(node, &body); err != nil {
				return nil, fmt.Errorf("node: %w", err)
			}
		case '[':
			return nil, errors.New("node must be an object")
		}
	}

	name, err := requiredString(body, "name")
	if err != nil {
		return nil, err
	}
	if !serviceNamePattern.MatchString(name) {
		return nil, fmt.Errorf("service name %q must be 1-253 characters of [A-Za-z0-9._-], starting and ending with a letter, digit or _", name)
	}
	id, present, err := optionalString(body, "id")
	if err != nil {
		return nil, err
	}
	if present && (id == "" || utf16Length(id) > maxIDLength) {
		return nil, fmt.Errorf("id must be 1-%d characters", maxIDLength)
	}
	version, _, err := optionalString(body, "version")
	if err != nil {
		return nil, err
	}
	// An empty version is what some registrars write for "none".
	if version != "" && !versionPattern.MatchString(version) {
		return nil, fmt.Errorf("version %q must be 1-128 characters of [A-Za-z0-9._+~-]", version)
	}
	addressText, err := requiredString(body, "address")
	if err != nil {
		return nil, err
	}
	weight := uint32(1)
	if raw, ok := body["weight"]; ok {
		var w float64
		if err := json.Unmarshal(raw, &w); err != nil || firstByte(raw) == 'n' {
			return nil, errors.New("weight must be a number")
		}
		if w != math.Trunc(w) || w < 1 || w > maxInstanceWeight {
			return nil, fmt.Errorf("weight must be an integer from 1 to %d", maxInstanceWeight)
		}
		weight = uint32(w)
	}
	zone, _, err := optionalString(body, "zone")
	if err != nil {
		return nil, err
	}
	if utf16Length(zone) > maxZoneLength {
		return nil, fmt.Errorf("zone must be at most %d characters", maxZoneLength)
	}
	if raw, ok := body["metadata"]; ok && firstByte(raw) != '{' {
		return nil, errors.New("metadata must be an object")
	}
	ip, port, err := parseSocketAddress(addressText)
	if err != nil {
		return nil, err
	}
	return &instance{
		key:     key,
		service: name,
		version: version,
		ip:      ip,
		port:    port,
		address: formatSocketAddress(ip, port),
		weight:  weight,
		zone:    zone,
	}, nil
}

// parseSocketAddress accepts "IPv4:port" and "[IPv6]:port" with a literal, dialable IP and a
// port from 1 to 65535. The IP is returned as written.
func parseSocketAddress(text string) (string, uint32, error) {
	var host, portText string
	bracketed := false
	if m := bracketedPattern.FindStringSubmatch(text); m != nil {
		host, portText, bracketed = m[1], m[2], true
	} else {
		colon := strings.LastIndexByte(text, ':')
		if colon <= 0 {
			return "", 0, fmt.Errorf("address %q must be IP:port", text)
		}
		host, portText = text[:colon], text[colon+1:]
		if strings.Contains(host, ":") {
			return "", 0, fmt.Errorf("address %q: an IPv6 address must be written [ip]:port", text)
		}
	}
	if !portPattern.MatchString(portText) {
		return "", 0, fmt.Errorf("address %q: port must be a number", text)
	}
	port, _ := strconv.Atoi(portText)
	if port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: port %d is out of range 1-65535", text, port)
	}
	ip, err := netip.ParseAddr(host)
	// Brackets hold an IPv6 address, and only brackets do.
	if err != nil || ip.Is4() == bracketed {
		return "", 0, fmt.Errorf("address %q: host must be an IP address (hostnames are not supported)", text)
	}
	if ip.IsUnspecified() {
		return "", 0, fmt.Errorf("address %q: the unspecified address cannot be dialled", text)
	}
	return host, uint32(port), nil
}

func formatSocketAddress(ip string, port uint32) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.FormatUint(uint64(port), 10)
	}
	return ip + ":" + strconv.FormatUint(uint64(port), 10)
}

// requiredString returns the string field `name` of a registration.
func requiredString(body map[string]json.RawMessage, name string) (string, error) {
	value, present, err := optionalString(body, name)
	if err == nil && !present {
		err = fmt.Errorf("%s is required and must be a string", name)
	}
	return value, err
}

// optionalString returns the string field `name`, whether it is present, and an error when it
// is present but not a string (null included, as the TypeScript schema has it).
func optionalString(body map[string]json.RawMessage, name string) (string, bool, error) {
	raw, ok := body[name]
	if !ok {
		return "", false, nil
	}
	var value string
	if firstByte(raw) != '"' || json.Unmarshal(raw, &value) != nil {
		return "", true, fmt.Errorf("%s must be a string", name)
	}
	return value, true, nil
}

// firstByte is the first non-space byte of a JSON value: its kind.
func firstByte(raw json.RawMessage) byte {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) == 0 {
		return 0
	}
	return trimmed[0]
}

// utf16Length is the length of s as JavaScript counts it.
func utf16Length(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// compareStrings orders strings by UTF-16 code units, as JavaScript's `<` does; for the ASCII
// strings nearly every name is, that is byte order.
func compareStrings(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := utf16Units(ra), utf16Units(rb)
			if ua[0] != ub[0] {
				return cmpInt(int(ua[0]), int(ub[0]))
			}
			return cmpInt(int(ua[1]), int(ub[1]))
		}
		a, b = a[na:], b[nb:]
	}
	return cmpInt(len(a), len(b))
}

// utf16Units is the UTF-16 encoding of r, padded with 0 for a single unit.
func utf16Units(r rune) [2]uint16 {
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
		return [2]uint16{uint16(r1), uint16(r2)}
	}
	return [2]uint16{uint16(r), 0}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
