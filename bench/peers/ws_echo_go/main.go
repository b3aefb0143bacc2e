// A WebSocket echo server with gorilla/websocket, for bench/ws_echo_vs_peers.sh:
// GET /ws upgrades, and every message comes back as it arrived (text or
// binary), the way gorilla's own echo example and the Go million-WebSocket
// write-ups do it: one goroutine per connection, ReadMessage then
// WriteMessage. Idle connections hold no write buffer (WriteBufferPool),
// as in bench/peers/ws_push_go.
package main

import (
	"flag"
	"log"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8999", "listen address")
	flag.Parse()
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024,
		WriteBufferPool: &sync.Pool{}, CheckOrigin: func(*http.Request) bool { return true }}
	http.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for { // pings, pongs and close are answered by gorilla
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(mt, msg) != nil {
				return
			}
		}
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
