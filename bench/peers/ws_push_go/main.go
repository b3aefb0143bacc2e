// A WebSocket push server with gorilla/websocket, for bench/ws_push_vs_peers.sh:
// GET /ws/push subscribes; every -every a binary message of -size bytes
// (8-byte big-endian sequence number from 1, 8-byte big-endian Unix ns,
// 'x' padding: what c1m serve --push-every sends) goes to every subscriber.
// The design of the Go million-WebSocket write-ups with gorilla: a reader
// goroutine per connection (control frames, close), the message framed once
// (websocket.PreparedMessage) and written by GOMAXPROCS sender goroutines,
// each owning a shard of the connections; idle connections hold no write
// buffer (WriteBufferPool).
package main

import (
	"encoding/binary"
	"flag"
	"log"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type shard struct {
	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8999", "listen address")
	every := flag.Duration("every", 100*time.Millisecond, "push period")
	size := flag.Int("size", 64, "message size (>= 16)")
	flag.Parse()
	if *size < 16 {
		*size = 16
	}
	n := runtime.GOMAXPROCS(0)
	shards := make([]*shard, n)
	for i := range shards {
		shards[i] = &shard{conns: map[*websocket.Conn]struct{}{}}
	}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{}, CheckOrigin: func(*http.Request) bool { return true }}
	var next uint64
	var nmu sync.Mutex
	http.HandleFunc("/ws/push", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		nmu.Lock()
		s := shards[next%uint64(n)]
		next++
		nmu.Unlock()
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		go func() { // read until it closes: pongs, pings and close are handled by gorilla
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					break
				}
			}
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	})
	go func() {
		buf := make([]byte, *size)
		for i := 16; i < len(buf); i++ {
			buf[i] = 'x'
		}
		t := time.NewTicker(*every)
		var seq uint64
		for range t.C {
			seq++
			binary.BigEndian.PutUint64(buf[0:], seq)
			binary.BigEndian.PutUint64(buf[8:], uint64(time.Now().UnixNano()))
			pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, buf)
			if err != nil {
				log.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, s := range shards {
				wg.Add(1)
				go func(s *shard) {
					defer wg.Done()
					s.mu.Lock()
					defer s.mu.Unlock()
					for c := range s.conns {
						c.SetWriteDeadline(time.Now().Add(5 * time.Second))
						if c.WritePreparedMessage(pm) != nil {
							c.Close() // its reader removes it
						}
					}
				}(s)
			}
			wg.Wait()
		}
	}()
	log.Fatal(http.ListenAndServe(*addr, nil))
}
