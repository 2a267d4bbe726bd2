package gittest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// SSHServer serves the repositories under a root over git's ssh protocol
// on 127.0.0.1: real git-upload-pack behind an in-process SSH server.
type SSHServer struct {
	// Addr is host:port.
	Addr string
	// KnownHosts is a known_hosts file naming the server's host key.
	KnownHosts string
	// AgentSock is an ssh-agent socket holding the one key the server
	// accepts.
	AgentSock string
}

// URL is the ssh URL of the repository root/path.
func (s *SSHServer) URL(path string) string {
	return "ssh://git@" + s.Addr + "/" + strings.TrimPrefix(path, "/")
}

// ServeSSH starts the server and an agent; both stop when the test ends.
// Clients use them through SSH_AUTH_SOCK and SSH_KNOWN_HOSTS, as go-git
// and git do.
func ServeSSH(t TB, root, tmp string) *SSHServer {
	t.Helper()
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("%v", err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostKey)
	if err != nil {
		t.Fatalf("%v", err)
	}
	_, userKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("%v", err)
	}
	userSigner, err := ssh.NewSignerFromKey(userKey)
	if err != nil {
		t.Fatalf("%v", err)
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if c.User() == "git" && string(k.Marshal()) == string(userSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, fmt.Errorf("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("%v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serveSSHConn(c, cfg, root) }()
		}
	}()

	s := &SSHServer{Addr: ln.Addr().String()}
	host, port, _ := net.SplitHostPort(s.Addr)
	s.KnownHosts = filepath.Join(tmp, "known_hosts")
	line := fmt.Sprintf("[%s]:%s %s", host, port, ssh.MarshalAuthorizedKey(hostSigner.PublicKey()))
	if err := os.WriteFile(s.KnownHosts, []byte(line), 0o600); err != nil {
		t.Fatalf("%v", err)
	}

	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: userKey}); err != nil {
		t.Fatalf("%v", err)
	}
	s.AgentSock = filepath.Join(tmp, "agent.sock")
	al, err := net.Listen("unix", s.AgentSock)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { al.Close() })
	go func() {
		for {
			c, err := al.Accept()
			if err != nil {
				return
			}
			go func() { agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	return s
}

func serveSSHConn(c net.Conn, cfg *ssh.ServerConfig, root string) {
	defer c.Close()
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for req := range chReqs {
				if req.Type != "exec" {
					req.Reply(req.Type == "env", nil)
					continue
				}
				var payload struct{ Command string }
				if ssh.Unmarshal(req.Payload, &payload) != nil {
					req.Reply(false, nil)
					return
				}
				// Only git-upload-pack '/path' is served.
				cmd, arg, _ := strings.Cut(payload.Command, " ")
				path := strings.Trim(arg, "'")
				if cmd != "git-upload-pack" || strings.Contains(path, "..") {
					req.Reply(false, nil)
					return
				}
				req.Reply(true, nil)
				x := exec.Command("git-upload-pack", filepath.Join(root, path))
				x.Env = Env(root)
				x.Stdin, x.Stdout, x.Stderr = ch, ch, ch.Stderr()
				status := uint32(0)
				if err := x.Run(); err != nil {
					status = 1
				}
				b := make([]byte, 4)
				binary.BigEndian.PutUint32(b, status)
				ch.SendRequest("exit-status", false, b)
				return
			}
		}()
	}
}
