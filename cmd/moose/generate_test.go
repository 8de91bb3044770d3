package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

func runCLI(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, dir: dir}
	code = run(context.Background(), e, args)
	return out.String(), errb.String(), code
}

// The acceptance check: what `moose generate hash-token --json`
// prints verifies with Python's hashlib, outside any project directory.
func TestHashTokenVerifiesWithPythonHashlib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is needed for this check")
		}
		t.Skip("python3 not installed")
	}
	for range 3 {
		out, _, code := runCLI(t, t.TempDir(), "generate", "hash-token", "--json")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		var got struct {
			Hash  string `json:"api_key_hash"`
			Token string `json:"bearer_token"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("not JSON: %q", out)
		}
		script := `import hashlib,sys
tok, salt = sys.argv[1].split(".")
print(hashlib.pbkdf2_hmac("sha256", tok.encode(), salt.encode(), 1000, 20).hex())`
		res, err := exec.Command(py, "-c", script, got.Token).Output()
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(res)) != got.Hash {
			t.Fatalf("python computes %s, moose printed %s", res, got.Hash)
		}
	}
}

func TestHashTokenTextFormat(t *testing.T) {
	out, _, code := runCLI(t, t.TempDir(), "generate", "hash-token")
	re := regexp.MustCompile(`^ENV API Key [0-9a-f]{40}\nBearer Token [0-9a-f]{32}\.[0-9a-f]{32}\n$`)
	if code != 0 || !re.MatchString(out) {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"generate", "hash-token", "--nope"}, {"generate"}, {"version", "x"}} {
		_, stderr, code := runCLI(t, t.TempDir(), args...)
		if code != 2 || !strings.Contains(stderr, "usage") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	out, _, code := runCLI(t, t.TempDir(), "help")
	if code != 0 || !strings.Contains(out, "generate") || !strings.Contains(out, "prod") {
		t.Fatalf("help: exit %d %q", code, out)
	}
}
