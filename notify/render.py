"""What a notification says in Japanese and in English: title, explanation, each channel's form.

Every alert kind has a title and an explanation in both languages. The explanation names the
place (site, device, sensor) and the time in Japan time, and adds the alert's own reason (the
detector's figures) in the reader's language: `reason_ja` for Japanese, `reason` for English.
A Japanese reader never gets English folded into the Japanese text: an old alert stored
without a Japanese reason gets the kind's explanation only.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from dataclasses import dataclass

from notify.subscriptions import TOKYO, Severity
from storage.alert_types import Alert

# kind -> (severity, Japanese title, English title, Japanese explanation, English explanation)
_KINDS: dict[str, tuple[Severity, str, str, str, str]] = {
    "drop": (
        Severity.CRITICAL,
        "在庫の急減（盗難・誤出庫の疑い）",
        "Sudden drop in stock (possible theft or wrong withdrawal)",
        "重量が出庫記録のないまま急に減りました。現場と記録を確認してください。",
        "The weight fell suddenly with no withdrawal to explain it. Check the bin and records.",
    ),
    "count_jump": (
        Severity.WARNING,
        "個数計の急な変化",
        "Sudden jump of the item counter",
        "個数計の値が重量と合わない変化をしました。計数器を確認してください。",
        "The item counter changed in a way the weight does not match. Check the counter.",
    ),
    "spike": (
        Severity.WARNING,
        "計測値のスパイク",
        "Spike in the readings",
        "一時的に飛び離れた値を計測しました。センサーや配線を確認してください。",
        "A reading far from its neighbours was measured. Check the sensor and its wiring.",
    ),
    "flat_line": (
        Severity.WARNING,
        "計測値が変化しない",
        "Readings stuck at one value",
        "センサーの値が長時間変わっていません。故障の可能性があります。",
        "The sensor has reported the same value for a long time; it may have failed.",
    ),
    "drift": (
        Severity.INFO,
        "計測値のずれ（ドリフト）",
        "Sensor drift",
        "センサーの値が少しずつずれています。校正を検討してください。",
        "The sensor's readings are drifting; consider recalibrating it.",
    ),
    "dead_cell": (
        Severity.WARNING,
        "ロードセルの故障（ゼロ表示）",
        "Dead load cell (reads zero)",
        "在庫があるはずのビンの重量がゼロになりました。ロードセルと配線を確認してください。",
        "The bin's weight fell to zero while it should still hold stock. Check the load cell "
        "and its wiring.",
    ),
    "pilferage": (
        Severity.WARNING,
        "在庫の不明な減少",
        "Stock lost without a record",
        "棚卸しの間に、払い出しの記録がないまま在庫が少しずつ減っています。",
        "Between stocktakes, stock has been going down little by little with no issue recorded.",
    ),
    "temperature_drift": (
        Severity.INFO,
        "ロードセルの温度ドリフト",
        "Load cell drifting with temperature",
        "重量の値が工場内の温度に合わせて変動しています。ロードセルの校正を検討してください。",
        "The weight follows the hall's temperature; consider recalibrating the load cell.",
    ),
    "reorder": (
        Severity.WARNING,
        "発注の時期です（欠品の予測）",
        "Time to reorder (stock-out forecast)",
        "リードタイム内に欠品する見込みです。発注してください。",
        "The bin is forecast to run out within its lead time. Place an order.",
    ),
    "quantity_discrepancy": (
        Severity.WARNING,
        "数量の不一致",
        "Stock discrepancy",
        "棚卸しまたは帳簿の数量が計測値と許容差を超えて異なります。",
        "A stocktake or the book stock differs from the measured stock beyond the tolerance.",
    ),
    "harvest_window": (
        Severity.WARNING,
        "収穫適期が近づいています",
        "Harvest window opening",
        "予測では数日以内に収穫適期に入ります。収穫の準備をしてください。",
        "The forecast says the harvest window opens within days. Prepare the harvest.",
    ),
    "frost_risk": (
        Severity.CRITICAL,
        "霜の危険（りんごの花芽）",
        "Frost risk to apple blossom buds",
        "今夜の最低気温の予測が、現在の生育ステージの危険温度を下回るおそれがあります。"
        "防霜の準備をしてください。",
        "Tonight's forecast minimum may fall below the bud stage's critical temperature. "
        "Prepare frost protection.",
    ),
    "scab_infection": (
        Severity.WARNING,
        "黒星病の感染好適条件",
        "Apple scab infection period",
        "葉の濡れ時間と気温が黒星病の感染条件（改訂ミルズ表）を満たしました。防除を検討してください。",
        "Leaf wetness and temperature met the apple scab infection table (revised Mills). "
        "Consider your spray programme.",
    ),
    "threshold": (
        Severity.WARNING,
        "しきい値ルールの条件に該当",
        "Threshold rule met",
        "設定したしきい値ルールの条件が続いています。",
        "A threshold rule's condition has lasted its set duration.",
    ),
    "spool_dropping": (
        Severity.WARNING,
        "機器が未送信データを破棄",
        "Device dropping unsent readings",
        "機器の未送信データの保存領域が満杯で、計測値が失われています。回線を確認してください。",
        "The device's spool is full and readings are being lost. Check its connection.",
    ),
    "sensor_silent": (
        Severity.WARNING,
        "センサーから計測値が届かない",
        "Sensor silent",
        "機器は通信していますが、このセンサーの計測値が届いていません。センサーと配線を確認してください。",
        "The device still reports but this sensor sends nothing. Check the probe and its cable.",
    ),
    "sensor_stuck": (
        Severity.WARNING,
        "センサーの値が変化しない",
        "Sensor stuck",
        "センサーが同じ値を出し続けています。故障の可能性があります。",
        "The sensor keeps reading exactly the same value; it is probably faulty.",
    ),
    "test": (
        Severity.INFO,
        "テスト通知",
        "Test notification",
        "通知の設定を確認するためのテストです。対応は必要ありません。",
        "A test of this notification setting. Nothing needs to be done.",
    ),
    "landslide_risk": (
        Severity.WARNING,
        "土砂災害の危険度が上昇（注意・警戒）",
        "Landslide risk rising (caution or warning)",
        "雨量計の雨から求めた土壌雨量指数または60分間雨量が、拠点のしきい値に達しました。"
        "気象庁・自治体の情報を確認し、斜面や沢に近づかないでください。",
        "The soil water index or the 60-minute rainfall from the site's rain gauge reached the "
        "site's threshold. Check JMA and municipal information and keep away from slopes and "
        "streams.",
    ),
    "landslide_danger": (
        Severity.CRITICAL,
        "土砂災害の危険（危険レベル）",
        "Landslide danger",
        "土壌雨量指数または60分間雨量が危険レベルのしきい値に達しました。"
        "自治体の避難情報に従い、ただちに安全を確保してください。",
        "The soil water index or the 60-minute rainfall reached the site's danger threshold. "
        "Follow the municipality's evacuation information and get to safety now.",
    ),
    "offline": (
        Severity.CRITICAL,
        "機器がオフライン",
        "Device offline",
        "機器からの通信が途絶えました。電源と回線を確認してください。",
        "The device stopped reporting. Check its power and connection.",
    ),
}
_OTHER = (
    Severity.WARNING,
    "アラート",
    "Alert",
    "確認が必要なアラートが発生しました。",
    "An alert needs attention.",
)


def severity_of(kind: str) -> Severity:
    """How urgent alerts of `kind` are."""
    return _KINDS.get(kind, _OTHER)[0]


@dataclass(frozen=True, slots=True)
class Rendered:
    """One alert's words in one language."""

    lang: str
    title: str
    explanation: str
    place: str
    when: str


def render(alert: Alert, lang: str, *, escalated: bool = False) -> Rendered:
    """The title and explanation of `alert` in `lang` (ja or en)."""
    _, title_ja, title_en, text_ja, text_en = _KINDS.get(alert.kind.value, _OTHER)
    when = dt.datetime.fromtimestamp(alert.ts_ms / 1000, TOKYO).strftime("%Y-%m-%d %H:%M")
    if lang == "ja":
        place = f"拠点 {alert.site} ・ 機器 {alert.device} ・ センサー {alert.sensor}"
        title = f"【未対応のため再通知】{title_ja}" if escalated else title_ja
        explanation_ja = f"{text_ja}{alert.reason_ja}" if alert.reason_ja else text_ja
        return Rendered("ja", title, explanation_ja, place, f"{when}（日本時間）")
    place = f"site {alert.site} · device {alert.device} · sensor {alert.sensor}"
    explanation = f"{text_en} {alert.reason}".strip() if alert.reason else text_en
    title = f"[Not acknowledged, escalated] {title_en}" if escalated else title_en
    return Rendered("en", title, explanation, place, f"{when} (Japan time)")


def webhook_body(key: str, alert: Alert, *, escalated: bool) -> str:
    """The webhook's JSON: the alert and its words in both languages (see docs/notifications.md)."""
    ja, en = render(alert, "ja", escalated=escalated), render(alert, "en", escalated=escalated)
    return json.dumps(
        {
            "id": key,
            "event": "alert.escalated" if escalated else "alert.raised",
            "tenant": alert.tenant,
            "alert": {
                "id": alert.id,
                "kind": alert.kind.value,
                "severity": severity_of(alert.kind.value).name.lower(),
                "site": alert.site,
                "device": alert.device,
                "sensor": alert.sensor,
                "raised_at": dt.datetime.fromtimestamp(alert.ts_ms / 1000, dt.UTC).isoformat(),
                "score": alert.score,
                "reason": alert.reason,
                "reason_ja": alert.reason_ja,
            },
            "title": {"ja": ja.title, "en": en.title},
            "explanation": {"ja": ja.explanation, "en": en.explanation},
            "text": {
                "ja": f"{ja.title}\n{ja.explanation}\n{ja.place}\n{ja.when}",
                "en": f"{en.title}\n{en.explanation}\n{en.place}\n{en.when}",
            },
        },
        ensure_ascii=False,
        sort_keys=True,
    )


_FOOTER = {
    "ja": "このメールは信州 IoT プラットフォームから自動で送信されています。",
    "en": "This message was sent automatically by the Shinshu IoT platform.",
}


def email_body(to: str, alert: Alert, lang: str, *, escalated: bool) -> str:
    """The e-mail's payload: recipient, subject, plain text and HTML, all in `lang`."""
    words = render(alert, lang, escalated=escalated)
    text = (
        f"{words.title}\n\n{words.explanation}\n\n{words.place}\n{words.when}\n\n{_FOOTER[lang]}\n"
    )
    e = html.escape
    body = (
        f'<html lang="{lang}"><body><h1 style="font-size:1.2em">{e(words.title)}</h1>'
        f"<p>{e(words.explanation)}</p><p>{e(words.place)}<br>{e(words.when)}</p>"
        f'<p style="color:#666;font-size:0.9em">{e(_FOOTER[lang])}</p></body></html>'
    )
    subject = f"[信州 IoT] {words.title}" if lang == "ja" else f"[Shinshu IoT] {words.title}"
    return json.dumps(
        {"to": to, "lang": lang, "subject": subject, "text": text, "html": body},
        ensure_ascii=False,
    )


def chat_body(alert: Alert, lang: str, *, escalated: bool) -> str:
    """A chat message (apprise): a title and a few lines of text in the reader's language."""
    words = render(alert, lang, escalated=escalated)
    return json.dumps(
        {"title": words.title, "body": f"{words.explanation}\n{words.place}\n{words.when}"},
        ensure_ascii=False,
    )


def push_body(alert: Alert, lang: str, *, escalated: bool) -> str:
    """The Web Push payload the dashboard's service worker shows as a notification."""
    words = render(alert, lang, escalated=escalated)
    return json.dumps(
        {
            "title": words.title,
            "body": f"{words.explanation}\n{words.place}",
            "lang": lang,
            "tag": alert.id,
            "alert": alert.id,
            "site": alert.site,
        },
        ensure_ascii=False,
    )
