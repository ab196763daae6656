-- wrk script: POST the demo OQSsiquc01 request (山田 太郎) to onshi, as the issue's baseline figures were taken.
-- wrk -t1 -c64 -d10s -s load-tests/siquc01.lua http://127.0.0.1:8080/oqs/v1/req/OQSsiquc01req_wrk.xml
local f = io.open("seed/demo/requests/OQSsiquc01req_yamada_taro.xml", "rb")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/xml"
