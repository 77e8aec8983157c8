package klikoo

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"
)

// wib is Western Indonesia Time (UTC+7), the zone of every Klikoo timestamp.
var wib = time.FixedZone("WIB", 7*60*60)

// timestampLayout formats Open-Api-Timestamp: "2024-02-07T10:28:35.000+07:00".
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// historyLayout formats the history search's from and to (RFC 3339, WIB).
const historyLayout = "2006-01-02T15:04:05Z07:00"

// timestamp renders t as an Open-Api-Timestamp in WIB.
func timestamp(t time.Time) string { return t.In(wib).Format(timestampLayout) }

// tokenStringToSign is what the access-token request signs.
func tokenStringToSign(clientID, ts string) string { return clientID + "|" + ts }

// tokenSignature is base64(SHA256withRSA(key, clientID|timestamp)) with
// PKCS#1 v1.5 padding, which is deterministic.
func tokenSignature(key *rsa.PrivateKey, clientID, ts string) (string, error) {
	digest := sha256.Sum256([]byte(tokenStringToSign(clientID, ts)))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign access-token request: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// requestStringToSign is what every call but the access-token request signs:
// METHOD:PATH:token:lowerhex(sha256(body)):timestamp. PATH is the signed path
// without the query string (see the package documentation).
func requestStringToSign(method, path, token string, body []byte, ts string) string {
	sum := sha256.Sum256(body)
	return method + ":" + path + ":" + token + ":" + hex.EncodeToString(sum[:]) + ":" + ts
}

// requestSignature is base64(HMAC-SHA512(secret, requestStringToSign(…))).
func requestSignature(secret, method, path, token string, body []byte, ts string) string {
	mac := hmac.New(sha512.New, []byte(secret))
	mac.Write([]byte(requestStringToSign(method, path, token, body, ts)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
