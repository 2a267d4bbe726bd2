package provenance

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"reflect"
	"testing"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func summaryOf(t testing.TB, pemFile string) certificate.Summary {
	t.Helper()
	blk, _ := pem.Decode(fixture(t, pemFile))
	if blk == nil {
		t.Fatalf("%s: no PEM block", pemFile)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s, err := certificate.SummarizeCertificate(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bundleFromJSON(t testing.TB, data []byte) *protobundle.Bundle {
	t.Helper()
	b := &protobundle.Bundle{}
	if err := protojson.Unmarshal(data, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func attestationFromBundleJSON(data []byte) (*Attestation, error) {
	b := &protobundle.Bundle{}
	if err := protojson.Unmarshal(data, b); err != nil {
		return nil, err
	}
	return FromBundle(b)
}

func protoEqual(a, b proto.Message) bool { return proto.Equal(a, b) }

func protoJSON(m proto.Message) string {
	b, _ := protojson.Marshal(m)
	return string(b)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	d := json.NewDecoder(bytes.NewReader(a))
	d.UseNumber()
	if err := d.Decode(&x); err != nil {
		t.Fatal(err)
	}
	d = json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}
