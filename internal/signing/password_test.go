package signing

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestPasswordSource(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		terminal bool
		typed    []string
		confirm  bool
		want     string
		wantErr  string
	}{
		{name: "env wins over terminal", env: map[string]string{PasswordEnv: "from-env"}, terminal: true, want: "from-env"},
		{name: "env set but empty is the empty password", env: map[string]string{PasswordEnv: ""}, want: ""},
		{name: "no env, no terminal", wantErr: "export COSIGN_PASSWORD=<password>"},
		{name: "prompt once", terminal: true, typed: []string{"typed"}, want: "typed"},
		{name: "prompt twice, same", terminal: true, confirm: true, typed: []string{"hunter2", "hunter2"}, want: "hunter2"},
		{name: "prompt twice, different", terminal: true, confirm: true, typed: []string{"hunter2", "hunter3"}, wantErr: "the two passwords differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prompts bytes.Buffer
			typed := tt.typed
			src := passwordSource{
				lookupEnv:  func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok },
				isTerminal: func() bool { return tt.terminal },
				readSecret: func() ([]byte, error) {
					if len(typed) == 0 {
						return nil, errors.New("no more input")
					}
					s := typed[0]
					typed = typed[1:]
					return []byte(s), nil
				},
				prompt: &prompts,
			}
			got, err := src.password(tt.confirm)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("password %q, want %q", got, tt.want)
			}
			if len(typed) != 0 {
				t.Errorf("%d typed answers left unread", len(typed))
			}
			if strings.Contains(prompts.String(), tt.want) && tt.want != "" {
				t.Errorf("the password was echoed in the prompts: %q", prompts.String())
			}
		})
	}
}

func TestNoTerminalErrorIsErrNoPassword(t *testing.T) {
	src := passwordSource{
		lookupEnv:  func(string) (string, bool) { return "", false },
		isTerminal: func() bool { return false },
	}
	if _, err := src.password(false); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("error %v, want ErrNoPassword", err)
	}
}
