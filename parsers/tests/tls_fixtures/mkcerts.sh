#!/bin/sh
# Test PKI for the certificate fixtures: a root, an issuing CA for servers, a client CA, a
# server leaf for api.bank.test and a PSD2-style TPP client leaf (all P-256).
set -e
ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"; }
ec root; ec issuing; ec clientca; ec server; ec tpp
openssl req -x509 -new -key root.key -subj "/CN=apitap test root" -days 3650 -sha256 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
openssl req -new -key issuing.key -subj "/O=apitap test/CN=apitap test issuing CA" -out issuing.csr
openssl x509 -req -in issuing.csr -CA root.pem -CAkey root.key -set_serial 0x1001 -days 3650 -sha256 -extfile ca.ext -out issuing.pem
openssl req -new -key clientca.key -subj "/O=apitap test/CN=apitap test TPP CA" -out clientca.csr
openssl x509 -req -in clientca.csr -CA root.pem -CAkey root.key -set_serial 0x1002 -days 3650 -sha256 -extfile ca.ext -out clientca.pem
printf 'subjectAltName=DNS:api.bank.test\nextendedKeyUsage=serverAuth\n' > server.ext
openssl req -new -key server.key -subj "/CN=api.bank.test" -out server.csr
openssl x509 -req -in server.csr -CA issuing.pem -CAkey issuing.key -set_serial 0x2001 -days 825 -sha256 -extfile server.ext -out server.pem
printf 'extendedKeyUsage=clientAuth\n' > tpp.ext
openssl req -new -key tpp.key -subj "/C=GB/O=Example TPP Ltd/organizationIdentifier=PSDGB-FCA-123456/CN=tpp.example" -out tpp.csr
openssl x509 -req -in tpp.csr -CA clientca.pem -CAkey clientca.key -set_serial 0x3001 -days 825 -sha256 -extfile tpp.ext -out tpp.pem
cat root.pem clientca.pem > client-trust.pem
cat root.pem issuing.pem > server-trust.pem
for c in server issuing tpp clientca; do openssl x509 -in $c.pem -outform der -out $c.der; done
