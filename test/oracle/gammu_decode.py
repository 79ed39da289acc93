#!/usr/bin/env python3
"""Independent oracle for test/pdu/pdu.test.ts: decodes SMS PDUs with python-gammu.

Reads one hex PDU per line on stdin (blank lines skipped; the PDU starts with its SMSC
octet, as modules print them after +CDS/+CMT and take them after AT+CMGS) and prints one
JSON object per PDU, in order:
  {"pdu": hex, "type": "Status_Report" | "Deliver" | "Submit", "number": ..., "text": ...,
   "messageReference": n, "deliveryStatus": n, "dateTime": iso | null,
   "smscDateTime": iso | null, "smsc": ..., "coding": ..., "udh": {...}}
or {"pdu": hex, "error": "..."} when gammu refuses it. Times are gammu's naive datetimes
(the SC's wall clock; gammu drops the zone). Exit code 0 even for refused PDUs.
Needs python3-gammu (Debian: apt-get install -y python3-gammu).
"""
import binascii
import json
import sys

import gammu


def iso(value):
    return None if value is None else value.isoformat()


def decode(hex_pdu):
    try:
        data = binascii.unhexlify(hex_pdu)
    except (binascii.Error, ValueError) as err:
        return {"pdu": hex_pdu, "error": "not hex: %s" % err}
    try:
        sms = gammu.DecodePDU(data, SMSC=True)
    except gammu.GSMError as err:
        return {"pdu": hex_pdu, "error": type(err).__name__}
    text = sms.get("Text")
    if isinstance(text, bytes):
        text = binascii.hexlify(text).decode("ascii").upper()
    udh = sms.get("UDH") or {}
    return {
        "pdu": hex_pdu,
        "type": sms.get("Type"),
        "number": sms.get("Number"),
        "text": text,
        "messageReference": sms.get("MessageReference"),
        "deliveryStatus": sms.get("DeliveryStatus"),
        "dateTime": iso(sms.get("DateTime")),
        "smscDateTime": iso(sms.get("SMSCDateTime")),
        "smsc": (sms.get("SMSC") or {}).get("Number"),
        "coding": sms.get("Coding"),
        "udh": {
            "type": udh.get("Type"),
            "id8bit": udh.get("ID8bit"),
            "id16bit": udh.get("ID16bit"),
            "partNumber": udh.get("PartNumber"),
            "allParts": udh.get("AllParts"),
        },
    }


def main():
    for line in sys.stdin:
        hex_pdu = line.strip()
        if hex_pdu:
            print(json.dumps(decode(hex_pdu)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
