package main

import (
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	switch os.Args[1] {
	case "http":
		log.Fatal(http.ListenAndServe(os.Args[2], nil))
	case "udp":
		if _, err := net.ListenPacket("udp", os.Args[2]); err != nil {
			log.Fatal(err)
		}
	case "tcp":
		if _, err := net.Listen("tcp", os.Args[2]); err != nil {
			panic(err)
		}
	}
}
