"""The マイナ資格確認アプリ as a front end of its own (oqs.md §8).

- 居宅同意取得型 (訪問診療, since 2024-10): staff at the patient's home read the card with
  a phone app of the clinic — PIN or 目視, then the consents. The app works only on a
  mobile device the clinic prepared: it is activated by a code issued on the 資格確認端末
  (:mod:`reception.home_visit.codes`). Its check-in is the terminal's own
  (:func:`reception.checkin.check_in` on :attr:`reception.flow.Route.COUNTER`), and what it
  confirms is what the clinic software fetches in bulk as 訪問診療 (``OQSmuhvq``).
- 資格確認限定型 (柔道整復・あはき, 助産所, facilities not obliged to run OQS; since 2024-04):
  qualification only — the terminal's ``mode`` (:mod:`reception.home_visit.mode`).

Sources (looked up 2026-12-07):
- 京都府医師会 京都医報 2025-03-01号 (kyotoihou.t-reader.jp/?p=26483), quoting the ministry's
  Q&A: the app released 2024-10 works only on the mobile device of a given institution
  after preparations such as issuing an アクティベーションコード from the 資格確認端末; so
  the patient may be identified by PIN or by staff's 目視 (no PIN needed); the app is for
  訪問診療等.
- familymed.tsumugifc.com 「マイナ資格確認アプリ（訪問診療用）を導入する」 (a clinic's notes,
  2024-11): the app's first registration asks 機関コード, ユーザーID, パスワード and the
  アクティベーションコード generated on the 資格確認端末.
- ijnethp.com 「訪問診療等におけるオンライン資格確認（居宅同意取得型）について」: in the app
  the patient consents to 薬剤情報・診療情報・特定健診情報 and chooses the 処方箋's form.
- 医療機関等向け総合ポータル FAQ 「オンライン資格確認（資格確認限定型）（マイナ資格確認アプリ）
  に関するよくある質問」 (iryohokenjyoho.service-now.com, kb 06de843f…): 資格確認限定型 is for
  柔道整復師・あん摩マッサージ指圧師・はり師・きゅう師の施術所 (受領委任), facilities not obliged
  to run OQS, 健診実施機関, 助産所; it obtains the qualification only — 特定健診情報・薬剤情報・
  診療情報 cannot be viewed.
"""
