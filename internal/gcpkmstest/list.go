package gcpkmstest

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// defaultPageSize is the page size when a list request gives none.
const defaultPageSize = 100

// page returns the bounds of the page of n items that token and size ask for,
// and the next page's token ("" after the last page). Tokens are the index of the
// page's first item, as opaque to the client as Cloud KMS's own.
func page(n int, token string, size int32) (from, to int, next string, err error) {
	if token != "" {
		from, err = strconv.Atoi(token)
		if err != nil || from < 0 || from > n {
			return 0, 0, "", status.Errorf(codes.InvalidArgument, "Invalid page token %q.", token)
		}
	}
	if size < 0 {
		return 0, 0, "", status.Errorf(codes.InvalidArgument, "page_size must not be negative.")
	}
	if size == 0 {
		size = defaultPageSize
	}
	to = min(from+int(size), n)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next, nil
}

// ListCryptoKeys lists the CryptoKeys of a key ring in name order, with their
// primary versions, page by page. It checks no permission: the server's IAM
// policies are per CryptoKey, and listing is a key ring permission.
func (s *Server) ListCryptoKeys(ctx context.Context, req *kmspb.ListCryptoKeysRequest) (*kmspb.ListCryptoKeysResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.begin(ctx, "ListCryptoKeys"); err != nil {
		return nil, err
	}
	if req.GetFilter() != "" || req.GetOrderBy() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "this test server neither filters nor orders listings")
	}
	if _, ok := s.keyRings[req.GetParent()]; !ok {
		return nil, status.Errorf(codes.NotFound, "KeyRing %s not found.", req.GetParent())
	}
	var names []string
	for name := range s.keys {
		if strings.HasPrefix(name, req.GetParent()+"/cryptoKeys/") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	from, to, next, err := page(len(names), req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	resp := &kmspb.ListCryptoKeysResponse{NextPageToken: next, TotalSize: int32(len(names))}
	for _, name := range names[from:to] {
		resp.CryptoKeys = append(resp.CryptoKeys, s.keys[name].proto())
	}
	return resp, nil
}

// ListCryptoKeyVersions lists the versions of a CryptoKey in number order, page
// by page; it needs PermGet on the key.
func (s *Server) ListCryptoKeyVersions(ctx context.Context, req *kmspb.ListCryptoKeyVersionsRequest) (*kmspb.ListCryptoKeyVersionsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyFor(ctx, "ListCryptoKeyVersions", req.GetParent(), PermGet)
	if err != nil {
		return nil, err
	}
	if req.GetFilter() != "" || req.GetOrderBy() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "this test server neither filters nor orders listings")
	}
	from, to, next, err := page(len(k.versions), req.GetPageToken(), req.GetPageSize())
	if err != nil {
		return nil, err
	}
	resp := &kmspb.ListCryptoKeyVersionsResponse{NextPageToken: next, TotalSize: int32(len(k.versions))}
	for n := from + 1; n <= to; n++ {
		resp.CryptoKeyVersions = append(resp.CryptoKeyVersions, k.versionProto(n))
	}
	return resp, nil
}
