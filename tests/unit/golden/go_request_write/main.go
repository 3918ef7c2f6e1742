// Reads JSON [{"raw": "<incoming request>", "hook": "...", "path": "..."}] on stdin; prints the daemon-style
// re-serialised request for each, as a JSON list of strings.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

type sample struct {
	Raw  string `json:"raw"`
	Hook string `json:"hook"`
	Path string `json:"path"`
}

func rewrite(req *http.Request, hook, path string) ([]byte, error) {
	if req.Header.Get("X-Original-Host") == "" {
		req.Header.Set("X-Original-Host", req.Host)
	}
	out := req.Clone(context.Background())
	query := req.URL.Query()
	out.URL.Path = path
	out.URL.RawQuery = query.Encode()
	body, err := io.ReadAll(io.LimitReader(req.Body, 10*1024*1024))
	if err != nil {
		return nil, err
	}
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.TransferEncoding = nil
	for _, name := range []string{"X-Forwarded-For", "X-Real-IP", "X-Forwarded", "X-Original-Forwarded-For", "X-Original-Url", "X-Original-Host"} {
		out.Header.Del(name)
	}
	if original := req.Header.Get("X-Original-Host"); original != "" {
		out.Host = original
	}
	out.Header.Set("Dify-Hook-Id", hook)
	if req.Header.Get("Dify-Hook-Url") == "" {
		scheme := "http"
		if req.Header.Get("X-Forwarded-Proto") == "https" {
			scheme = "https"
		}
		out.Header.Set("Dify-Hook-Url", fmt.Sprintf("%s://%s/e/%s%s", scheme, out.Host, hook, path))
	}
	var buffer bytes.Buffer
	if err := out.Write(&buffer); err != nil {
		return nil, err
	}
	return buffer.Bytes(), nil
}

func main() {
	var samples []sample
	if err := json.NewDecoder(os.Stdin).Decode(&samples); err != nil {
		panic(err)
	}
	results := []string{}
	for _, s := range samples {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s.Raw)))
		if err != nil {
			results = append(results, "ERROR: "+err.Error())
			continue
		}
		written, err := rewrite(req, s.Hook, s.Path)
		if err != nil {
			results = append(results, "ERROR: "+err.Error())
			continue
		}
		results = append(results, string(written))
	}
	json.NewEncoder(os.Stdout).Encode(results)
}
