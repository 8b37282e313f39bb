"""Writes DIR/box_env.sh (default /tmp/boxsuite): a fake JWT config whose RSA key (DIR/jwt_key.pem) is generated
here, and the ids of the demo world the suite's tests read from the environment. Both files hold a private key:
they belong under /tmp/boxsuite, never in the repo."""

import base64
import json
import os
import pathlib
import subprocess
import sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/boxsuite")
out.mkdir(parents=True, exist_ok=True)
key = out / "jwt_key.pem"
if not key.exists():
    subprocess.run(
        ["openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        + ["-aes-256-cbc", "-pass", "pass:tapeproxy-pass", "-out", str(key)],
        check=True,
    )
    key.chmod(0o600)
cfg = {
    "boxAppSettings": {
        "clientID": "tapeproxyclientid0000000000000000",
        "clientSecret": "tapeproxyclientsecret00000000000",
        "appAuth": {"publicKeyID": "tpkey001", "privateKey": key.read_text(), "passphrase": "tapeproxy-pass"},
    },
    "enterpriseID": "1234567",
}
env = {
    "JWT_CONFIG_BASE_64": base64.b64encode(json.dumps(cfg).encode()).decode(),
    "CLIENT_ID": cfg["boxAppSettings"]["clientID"],
    "CLIENT_SECRET": cfg["boxAppSettings"]["clientSecret"],
    "ENTERPRISE_ID": "1234567",
    "USER_ID": "11446499",
    "ADMIN_USER_ID": "11446498",
    "BOX_FILE_REQUEST_ID": "42037322",
    "BOX_EXTERNAL_USER_EMAIL": "external@example.com",
    "WORKFLOW_FOLDER_ID": "0",
    "APP_ITEM_ASSOCIATION_FILE_ID": "12345",
    "APP_ITEM_ASSOCIATION_FOLDER_ID": "12345678",
    "APP_ITEM_SHARED_LINK": "https://app.box.com/s/abcdefghijklmnop",
    "SLACK_AUTOMATION_USER_ID": "11446498",
    "SLACK_ORG_ID": "E12345678",
    "SLACK_PARTNER_ITEM_ID": "C12345678",
}
target = out / "box_env.sh"
fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    f.write("".join(f"export {k}='{v}'\n" for k, v in env.items()))
print("wrote", target)
