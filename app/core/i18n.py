"""Localized messages: zh-CN by default, English on request (`Accept-Language: en`).

A message is looked up by a stable code; the same code is what clients match on, the text is
for people. Missing English falls back to the Chinese text, never to the code alone.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from typing import Literal

Locale = Literal["zh-CN", "en"]
DEFAULT_LOCALE: Locale = "zh-CN"

Text = tuple[str, str]
"""A document's label in Chinese and in English (PDFs and spreadsheets, which carry their own
labels rather than message codes)."""


def in_locale(locale: Locale, text: Text) -> str:
    return text[1] if locale == "en" else text[0]


def said(locale: Locale, name: str, value: object) -> str:
    """`name: value`, with the punctuation of the language."""
    return f"{name}: {value}" if locale == "en" else f"{name}：{value}"


def aside(locale: Locale, text: str, note: str) -> str:
    """`text (note)`, with the punctuation of the language."""
    return f"{text} ({note})" if locale == "en" else f"{text}（{note}）"


def listed(locale: Locale, *parts: str) -> str:
    """Parts of one line, with the separator of the language."""
    return (", " if locale == "en" else "，").join(parts)


current_locale: ContextVar[Locale] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@functools.lru_cache(maxsize=512)
def negotiate_locale(accept_language: str | None) -> Locale:
    """Pick zh-CN or en from an Accept-Language header, honouring q-values."""
    if not accept_language:
        return DEFAULT_LOCALE
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for negative_quality, _, tag in sorted(ranked):
        if negative_quality >= 0:
            continue
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


# code -> (zh-CN, en). Titles of problem types and details with {named} parameters.
MESSAGES: dict[str, tuple[str, str]] = {
    # problem titles
    "bad_request": ("请求有误", "Bad request"),
    "malformed_json": ("请求体不是有效的 JSON", "The request body is not valid JSON"),
    "validation_failed": ("请求参数校验失败", "The request did not pass validation"),
    "unauthenticated": ("需要登录或有效的凭证", "Authentication required"),
    "invalid_token": ("凭证无效或已过期", "The token is invalid or has expired"),
    "invalid_credentials": ("邮箱或密码错误", "Wrong email or password"),
    "invalid_grant": (
        "刷新令牌无效、已过期或已被使用",
        "The refresh token is invalid, expired or used",
    ),
    "forbidden": ("无权执行此操作", "You are not allowed to do this"),
    "insufficient_scope": ("凭证缺少所需的权限范围", "The credential lacks a required scope"),
    "not_found": ("资源不存在", "Not found"),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "conflict": ("与现有数据冲突", "Conflicts with existing data"),
    "already_exists": ("该值已被使用", "This value is already in use"),
    "invalid_state": ("当前状态不允许此操作", "Not allowed in the current state"),
    "import_rejected": (
        "导入被拒绝：有的行不合格，未导入任何数据",
        "Import refused: some rows are wrong, nothing was imported",
    ),
    "rate_limited": ("请求过于频繁", "Too many requests"),
    "sign_in_throttled": ("登录失败次数过多", "Too many failed sign-ins"),
    "search_unavailable": (
        "搜索服务暂不可用，请稍后再试",
        "Search is unavailable; try again shortly",
    ),
    "payload_too_large": ("请求体过大", "Request body too large"),
    "unsupported_media_type": ("不支持的内容类型", "Unsupported media type"),
    "internal_error": ("服务器内部错误", "Internal server error"),
    "service_unavailable": ("服务暂不可用", "Service unavailable"),
    # details
    "detail.already_exists": ("{field} 已被使用", "{field} is already in use"),
    "detail.payload_too_large": (
        "请求体不能超过 {limit} 字节",
        "The request body must not exceed {limit} bytes",
    ),
    "detail.not_found": ("找不到该资源", "No such resource"),
    "detail.route_not_found": ("没有此接口：{path}", "No such endpoint: {path}"),
    "detail.method_not_allowed": (
        "该接口不支持 {method} 方法",
        "This endpoint does not support {method}",
    ),
    "detail.role_required": (
        "需要以下角色之一：{roles}",
        "One of these roles is required: {roles}",
    ),
    "detail.scope_required": ("缺少权限范围：{scopes}", "Missing scopes: {scopes}"),
    "detail.caller_kind": (
        "此接口不接受该类凭证",
        "This endpoint does not accept this kind of credential",
    ),
    "detail.result_on_market": (
        "该成果有审核中或已发布的挂牌，不能修改",
        "The result has a listing under review or on the market and cannot change",
    ),
    "detail.listing_transition": (
        "挂牌当前状态为 {state}，不能转为 {target}",
        "The listing is {state} and cannot become {target}",
    ),
    "detail.window_closed": (
        "不在公示期内，不能登记受让意向",
        "The publication window is not open; intents cannot be registered",
    ),
    "detail.rate_limited": ("每分钟最多 {limit} 次请求", "At most {limit} requests a minute"),
    "detail.sign_in_throttled": ("请 {seconds} 秒后再试", "Try again in {seconds} seconds"),
    "detail.last_owner": (
        "组织至少需要保留一名所有者",
        "An organization must keep at least one owner",
    ),
    "detail.owner_required": (
        "只有所有者可以授予或撤销所有者角色",
        "Only an owner can grant or revoke the owner role",
    ),
    "detail.organization_state": (
        "组织当前状态为 {state}，不能执行此操作",
        "The organization is {state}; this is not allowed",
    ),
    "detail.broker_state": (
        "经纪人当前状态为 {state}，不能转为 {target}",
        "The broker is {state} and cannot become {target}",
    ),
    "detail.api_key_scope": (
        "API 密钥不能授予以下权限范围：{scopes}",
        "An API key cannot be granted these scopes: {scopes}",
    ),
    "detail.invalid_json": (
        "第 {line} 行第 {column} 列附近：{reason}",
        "Near line {line}, column {column}: {reason}",
    ),
    # field errors (pydantic error types and our own)
    "field.already_exists": ("已被使用", "Already in use"),
    "field.missing": ("此字段必填", "Field required"),
    "field.extra_forbidden": ("不允许的字段", "Unknown field"),
    "field.string_too_short": (
        "长度不能少于 {min_length} 个字符",
        "Must have at least {min_length} characters",
    ),
    "field.string_too_long": (
        "长度不能超过 {max_length} 个字符",
        "Must have at most {max_length} characters",
    ),
    "field.string_type": ("必须是字符串", "Must be a string"),
    "field.string_pattern_mismatch": ("格式不正确", "Does not match the expected format"),
    "field.int_parsing": ("必须是整数", "Must be an integer"),
    "field.int_type": ("必须是整数", "Must be an integer"),
    "field.bool_parsing": ("必须是布尔值", "Must be a boolean"),
    "field.bool_type": ("必须是布尔值", "Must be a boolean"),
    "field.greater_than_equal": ("不能小于 {ge}", "Must be at least {ge}"),
    "field.less_than_equal": ("不能大于 {le}", "Must be at most {le}"),
    "field.enum": ("取值必须是以下之一：{expected}", "Must be one of: {expected}"),
    "field.literal_error": ("取值必须是以下之一：{expected}", "Must be one of: {expected}"),
    "field.uuid_parsing": ("必须是有效的 UUID", "Must be a valid UUID"),
    "field.uuid_type": ("必须是有效的 UUID", "Must be a valid UUID"),
    "field.datetime_parsing": ("必须是 ISO 8601 时间", "Must be an ISO 8601 date-time"),
    "field.datetime_from_date_parsing": ("必须是 ISO 8601 时间", "Must be an ISO 8601 date-time"),
    "field.timezone_aware": ("时间必须带时区", "The date-time must carry a timezone"),
    "field.value_error": ("取值无效：{error}", "Invalid value: {error}"),
    "field.model_type": ("必须是 JSON 对象", "Must be a JSON object"),
    "field.model_attributes_type": ("必须是 JSON 对象", "Must be a JSON object"),
    "field.dict_type": ("必须是 JSON 对象", "Must be a JSON object"),
    "field.list_type": ("必须是数组", "Must be an array"),
    "field.set_type": ("必须是数组", "Must be an array"),
    "field.too_short": ("至少需要 {min_length} 项", "Needs at least {min_length} items"),
    "field.too_long": ("最多 {max_length} 项", "At most {max_length} items"),
    "field.json_invalid": ("不是有效的 JSON：{error}", "Invalid JSON: {error}"),
    "field.email_invalid": ("邮箱地址无效：{reason}", "Invalid email address: {reason}"),
    "field.value_error.email": ("邮箱地址无效", "Invalid email address"),
    "field.password_weak": (
        "密码至少 10 个字符，且不能全是同一类字符",
        "The password needs at least 10 characters of more than one kind",
    ),
    "field.uscc_invalid": (
        "统一社会信用代码无效：{reason_text}",
        "Invalid unified social credit code: {reason_text}",
    ),
    "uscc.length": ("应为 18 位", "it must have 18 characters"),
    "uscc.checksum": ("校验码不符", "the check character does not match"),
    "uscc.component": (
        "登记管理部门或机构类别代码无效",
        "the registration authority or organization type is invalid",
    ),
    "uscc.format": (
        "只能包含数字和除 I、O、Z、S、V 以外的大写字母",
        "only digits and capital letters other than I, O, Z, S, V are allowed",
    ),
    "field.division_code_invalid": (
        "行政区划代码 {code} 不在 GB/T 2260 代码表中",
        "Administrative division code {code} is not in the GB/T 2260 table",
    ),
    "field.money_format": (
        '金额须为字符串形式、最多两位小数的数字，如 "12345.67"',
        'The amount is a decimal string with at most two decimals, such as "12345.67"',
    ),
    "field.money_negative": ("金额不能为负数", "The amount must not be negative"),
    "field.money_currency": ("币种必须是 CNY", "The currency must be CNY"),
    "field.money_not_positive": ("金额必须大于零", "The amount must be above zero"),
    "field.money_too_large": ("金额超出允许范围", "The amount is too large"),
    "field.patent_number_format": (
        "专利申请号格式应为 12 位（或 2003 年前 8 位）数字加校验位，如 202310123456.7",
        "A patent application number is 12 digits (8 before 2003) and a check character, "
        "such as 202310123456.7",
    ),
    "field.patent_check_digit": (
        "专利申请号校验位不符，应为 {expected}",
        "The check character does not match; it should be {expected}",
    ),
    "field.patent_kind_mismatch": (
        "申请号的专利类型（第 5 位）与成果类型不符",
        "The number's patent-type digit does not match the kind of result",
    ),
    "field.ip_number_required": (
        "专利和软件著作权必须填写申请号或登记号",
        "Patents and software copyrights need their application or registration number",
    ),
    "field.software_number_format": (
        "软件著作权登记号格式应如 2023SR0123456",
        "A software copyright registration number looks like 2023SR0123456",
    ),
    "field.ipc_format": (
        "IPC 分类号 {code} 格式不正确，应如 H01F 1/057",
        "IPC code {code} is malformed; expected e.g. H01F 1/057",
    ),
    "field.field_unknown": (
        "技术领域代码 {code} 不在分类表中",
        "Technology field {code} is not in the taxonomy",
    ),
    "field.inventor_shares": (
        "发明人份额必须全部填写且合计为 100",
        "Inventor shares must all be given and add up to 100",
    ),
    "field.greater_than": ("必须大于 {gt}", "Must be greater than {gt}"),
    "field.decimal_max_places": (
        "最多 {decimal_places} 位小数",
        "At most {decimal_places} decimal places",
    ),
    "field.decimal_parsing": ("必须是数字", "Must be a number"),
    "field.float_parsing": ("必须是数字", "Must be a number"),
    "field.window_too_short": (
        "公示期不得少于 {minimum} 天",
        "The publication window must be at least {minimum} days",
    ),
    "field.window_too_long": (
        "公示期不得超过 {maximum} 天",
        "The publication window must be at most {maximum} days",
    ),
    "field.licence_years_required": (
        "许可方式必须填写许可年限",
        "A licence needs its term in years",
    ),
    "field.licence_years_not_allowed": ("只有许可方式才有许可年限", "Only licences have a term"),
    "field.price_not_allowed": ("面议挂牌不能填写价格", "A negotiable listing has no price"),
    "field.price_required": (
        "挂牌价和竞价方式必须填写大于零的价格",
        "Fixed-price and auction listings need a price above zero",
    ),
    "field.totp_invalid": (
        "验证码无效或已过期，请输入身份验证器上当前的六位数字",
        "The code is not valid now; enter the six digits your authenticator shows",
    ),
    "field.price_items_total": (
        "报价明细清单合计须等于合同总额 {total}",
        "The price list must add up to the total, {total}",
    ),
    "field.price_items_technology": (
        "报价明细中技术部分合计须等于技术交易额 {transaction_amount}",
        "The price list's technology lines must add up to the technology-transaction amount, "
        "{transaction_amount}",
    ),
    "field.no_such_price_item": ("报价明细清单中没有该项", "The price list has no such line"),
    "field.price_item_not_technology": (
        "只能从技术部分的明细项中核减",
        "Only technology lines of the price list can be deducted from",
    ),
    "field.deduction_above_item": (
        "核减金额超过该明细项剩余金额 {left}",
        "The deduction is more than the line has left, {left}",
    ),
    "field.nothing_counts": (
        "核减后技术交易额为零：不属于技术合同，请不予登记",
        "Nothing would count as technology: refuse the registration instead",
    ),
    "field.below_designated_technology": (
        "核定的技术交易额低于合同约定支付技术部分的里程碑金额 {designated}，请当事人先补正合同",
        "The checked amount is below the milestones the contract says pay the technology, "
        "{designated}: the parties must correct the contract first",
    ),
    "field.two_phase_alone": (
        "两阶段计时（自由报价期/限时报价期）不能与 ends_at 或 anti_sniping 同时设置",
        "Two-phase timing replaces ends_at and anti_sniping: send it alone",
    ),
    "field.not_a_transfer_agency": (
        "只有技术转移机构可以被认定",
        "Only transfer agencies are recognized",
    ),
    "field.not_verified": ("该组织尚未通过认证", "The organization is not verified"),
    "field.period_inverted": ("截止日不能早于起始日", "The period ends before it starts"),
    "field.recognition_overlaps": (
        "与该机构已有的认定期间重叠",
        "It overlaps a period the agency is already recognized for",
    ),
    "field.year_not_started": ("该年度尚未开始", "That year has not begun"),
    "field.year_not_over": (
        "该年度尚未结束，年度评价在次年进行",
        "That year is not over: it is evaluated the year after",
    ),
    "field.not_recognized": (
        "该机构在 {year} 年内未获自治区认定",
        "The region did not recognize the agency at any time in {year}",
    ),
    "field.not_evaluated": (
        "该年度尚未完成绩效评价",
        "The year has not been evaluated yet",
    ),
    "field.evaluation_not_passed": (
        "该年度绩效评价未达合格分数线（得分 {total}）",
        "The year's evaluation did not reach the pass mark (total {total})",
    ),
    "field.not_an_agency_claim": (
        "只有技术转移机构的后补助申请可以分配给经纪人",
        "Only a transfer agency's post-subsidy claim is shared with brokers",
    ),
    "field.not_the_agencys_broker": (
        "该经纪人不是本机构在册的技术经纪人",
        "That broker is not an active broker of this agency",
    ),
    "field.shares_over_100": (
        "分配比例合计 {total}% 超过 100%",
        "The shares add up to {total} %, over 100 %",
    ),
    "field.demand_closed": ("该需求已关闭", "The demand is closed"),
    "field.deadline_passed": ("截止时间已过", "The deadline has passed"),
    "field.deadline_within_window": (
        "揭榜截止时间须晚于发榜公示期结束",
        "Proposals must stay open beyond the publication window",
    ),
    "field.budget_or_prize": (
        "请给出预算区间或固定奖金，二者选一",
        "Give a budget range or a fixed prize, one of the two",
    ),
    "field.proposals_closed": ("揭榜已截止", "Proposals are closed"),
    "field.own_challenge": (
        "不能揭自己发布的榜",
        "An organization does not take up its own challenge",
    ),
    "field.not_a_solver": (
        "只有高校、科研院所和企业可以揭榜",
        "Universities, institutes and enterprises take up challenges",
    ),
    "field.outside_region": (
        "该榜单仅限发榜单位所在省（区）内的单位揭榜",
        "This challenge takes proposals from its owner's province only",
    ),
    "field.not_your_result": ("只能引用本单位的科技成果", "Only your organization's own results"),
    "field.unknown_user": ("没有该用户", "No such user"),
    "field.proposals_still_open": (
        "揭榜尚未截止，截止后方可评审",
        "Proposals are still open: they are scored after the deadline",
    ),
    "field.conflict_of_interest": (
        "专家不得评审本单位的揭榜方案（利益冲突）",
        "An expert does not score their own organization's proposal (conflict of interest)",
    ),
    "field.declaration_required": (
        "请声明与该方案无利益冲突",
        "Declare that you have no conflict of interest in this proposal",
    ),
    "field.not_on_sheet": ("评分表中没有该项指标", "The score sheet has no such criterion"),
    "field.scoring_incomplete": (
        "尚有专家未完成评审，评审完成后方可确定揭榜结果",
        "Not every expert has scored every proposal yet: the award waits for the ranking",
    ),
    "field.not_ranked": (
        "只能从本榜单已评审排名的揭榜方案中选定",
        "Pick one of this challenge's ranked proposals",
    ),
    "field.publicity_over": (
        "公示期已于 {ended_at} 结束，不再受理异议",
        "The publicity period ended at {ended_at}: objections are no longer taken",
    ),
    "field.score_outside_weight": (
        "得分须在 0 至该项分值 {weight} 之间",
        "A score is between 0 and the criterion's weight, {weight}",
    ),
    "field.off_increment_grid": (
        "出价须为加价幅度的正整数倍，最近的有效出价：{nearest}",
        "A bid must be a whole number of increments; the nearest acceptable: {nearest}",
    ),
    "field.not_your_own": (
        "不能对自己的账号执行此操作，请由另一位管理员操作",
        "You cannot do this to your own account; another admin must",
    ),
    "field.second_factor_needed": (
        "请先使用第二重验证（TOTP）登录，再要求成员使用第二重验证",
        "Sign in with your second factor (TOTP) before requiring it of the members",
    ),
    "field.not_your_organization": (
        "你不是该组织的成员",
        "You are not a member of this organization",
    ),
    "field.intent_enterprise_only": (
        "只有企业可以登记受让意向",
        "Only enterprises can register intent",
    ),
    "field.intent_verified_only": (
        "组织通过认证后才能登记受让意向",
        "The organization must be verified to register intent",
    ),
    "field.intent_own_listing": (
        "不能对本组织的挂牌登记受让意向",
        "You cannot register intent on your own listing",
    ),
    "field.import_file": (
        "无法读取文件（{reason}）：请上传 UTF-8/GB18030 CSV 或 XLSX",
        "Cannot read the file ({reason}); upload a UTF-8/GB18030 CSV or an XLSX",
    ),
    "field.unknown_parameter": ("不支持的参数", "Unknown parameter"),
    "field.cursor_other_query": ("该游标属于另一个查询", "This cursor belongs to another query"),
    "field.range_inverted": ("最高价不能低于最低价", "The maximum must not be below the minimum"),
    "field.demand_enterprise_only": (
        "只有企业可以发布技术需求",
        "Only enterprises can post technology needs",
    ),
    "field.cursor_invalid": ("分页游标无效", "The pagination cursor is invalid"),
    "field.no_such_user": (
        "没有使用该邮箱的用户，请对方先注册",
        "No user has this email; ask them to sign up first",
    ),
    "field.agency_required": (
        "所属机构必须是已认证的技术转移机构",
        "The affiliated organization must be a verified transfer agency",
    ),
    "field.platform_kind": (
        "平台机构不能通过接口创建",
        "Platform organizations cannot be created through the API",
    ),
    "auction_closed": ("竞价已结束", "The auction has ended"),
    "auction_not_open": ("竞价尚未开始", "The auction has not started"),
    "deposit_required": ("需要先缴纳保证金", "A confirmed deposit is required"),
    "already_leading": ("你已是最高出价人", "You are already the highest bidder"),
    "auction_sealed": ("一次性报价拍卖", "A sealed-bid auction"),
    "auction_not_sealed": ("非一次性报价拍卖", "Not a sealed-bid auction"),
    "bid_too_low": ("出价低于当前最低可接受价", "The bid is below the minimum"),
    "proxy_maximum_too_low": ("代理出价上限过低", "The proxy maximum is too low"),
    "idempotency_key_reused": (
        "该幂等键已用于另一个请求",
        "This Idempotency-Key was used with a different request",
    ),
    "detail.auction_closed": (
        "竞价已结束或已取消，不再接受出价和保证金",
        "The auction has ended or was cancelled; no more bids or deposits",
    ),
    "detail.auction_not_open": ("竞价尚未开始", "Bidding has not started yet"),
    "detail.deposit_required": (
        "出价前须缴纳保证金并经平台确认",
        "Bidding needs a deposit confirmed by the platform",
    ),
    "detail.already_leading": (
        "你的出价已领先，无需再次出价",
        "Your bid leads already; you need not bid against yourself",
    ),
    "detail.bid_too_low": ("出价至少为 {minimum} 元", "The bid must be at least {minimum} CNY"),
    "detail.proxy_maximum_too_low": (
        "代理出价上限至少为 {minimum} 元",
        "The proxy maximum must be at least {minimum} CNY",
    ),
    "detail.auction_started": (
        "竞价已开始，不能再修改条件",
        "The auction has started; its terms can no longer change",
    ),
    "detail.auction_finished": ("竞价已完成，不能取消", "The auction is finished"),
    "detail.deposit_settled": (
        "该保证金已处理（转付、退还或取消）",
        "The deposit was already applied, released or cancelled",
    ),
    "detail.idempotency_key_reused": (
        "同一幂等键只能用于同样的请求；新的请求请使用新的键",
        "Use a new Idempotency-Key for a different request",
    ),
    "field.bid_too_low": ("出价至少为 {minimum} 元", "At least {minimum} CNY"),
    "field.idempotency_key_reused": (
        "该键已用于不同的请求",
        "This key was used with a different request",
    ),
    "field.bid_own_listing": ("不能参与本组织挂牌的竞价", "You cannot bid on your own listing"),
    "field.bidder_unverified": (
        "组织通过认证后才能参与竞价",
        "The organization must be verified to bid",
    ),
    "field.bidder_not_intent_holder": (
        "本场竞价仅限登记了受让意向的组织参加",
        "Only organizations that registered intent may bid in this auction",
    ),
    "field.auction_start_past": ("开始时间必须晚于当前时间", "The start must be in the future"),
    "field.auction_end_before_start": (
        "结束时间必须晚于开始时间",
        "The end must be after the start",
    ),
    "field.reserve_below_start_price": (
        "保留价不能低于起拍价",
        "The reserve must not be below the start price",
    ),
    "field.deposit_already_requested": (
        "已有竞买人申请保证金，不能再修改金额",
        "Deposits were already requested; the amount can no longer change",
    ),
    "field.increments_order": (
        "加价幅度须按价格上限递增，最后一档不填上限",
        "Steps must ascend by `below`, the last one without `below`",
    ),
    "registration_incomplete": ("合同不完整，不能登记", "The contract is incomplete"),
    "detail.registration_incomplete": (
        "认定登记前请补全：见 reasons",
        "Complete what `reasons` lists before registration",
    ),
    "detail.contract_closed": ("合同已履行完毕或已终止", "The contract is completed or terminated"),
    "detail.version_not_awaiting_signature": (
        "该版本不是待签署的版本",
        "That version is not the one awaiting signatures",
    ),
    "detail.contract_not_signed": (
        "只有双方已签署、尚未登记的合同才能认定登记（当前：{state}）",
        "Only a signed, unregistered contract can be registered (now: {state})",
    ),
    "detail.contract_not_payable": (
        "合同签署后、终止前才能付款（当前：{state}）",
        "Payments are taken once the contract is signed and until it ends (now: {state})",
    ),
    "detail.payment_cancelled": ("该付款已取消", "The payment was cancelled"),
    "detail.nothing_to_pay_out": (
        "该交易账户没有待付给卖方的款项",
        "Nothing is held for the seller",
    ),
    "detail.listing_not_negotiated": (
        "只有公示期结束且有受让意向的面议挂牌才能议定成交",
        "Only a negotiable listing whose window closed with intents can be agreed",
    ),
    "detail.buyer_pays": ("只有买方可以付款", "Only the buyer pays"),
    "field.buyer_not_intent_holder": (
        "买方必须是登记了受让意向的组织",
        "The buyer must be one of the intent holders",
    ),
    "field.same_party": ("买方和卖方不能是同一组织", "Seller and buyer must differ"),
    "field.no_such_organization": ("没有该组织", "No such organization"),
    "field.counterparty_unverified": ("对方组织尚未通过认证", "The other party is not verified"),
    "field.transaction_above_total": (
        "技术交易额不能超过合同总额",
        "The technology-transaction amount cannot exceed the total",
    ),
    "field.term_inverted": ("结束日期不能早于开始日期", "The term ends before it starts"),
    "field.milestones_sum": (
        "各付款节点金额之和必须等于合同总额 {total} 元",
        "The milestones must add up to the total, {total} CNY",
    ),
    "field.registration_number_format": (
        "登记编号应为 16 位数字：年份 4 位、行政区划代码 6 位、序号 6 位",
        "A registration number is 16 digits: year (4), division code (6), serial (6)",
    ),
    "field.registration_number_year": (
        "登记编号的年份 {year} 早于技术合同登记制度",
        "The number's year {year} is before contract registration began",
    ),
    "field.registration_number_division": (
        "登记编号中的行政区划代码 {code} 不存在（GB/T 2260）",
        "The number's division code {code} does not exist (GB/T 2260)",
    ),
    "field.registration_number_serial": (
        "登记编号的序号从 000001 开始",
        "A number's serial starts at 000001",
    ),
    "field.registration_year_mismatch": (
        "登记编号的年份与登记日期的年份不一致",
        "The number's year is not the year it was registered",
    ),
    "field.registration_number_region": (
        "登记编号的地区不是卖方所在地区（技术合同在卖方所在地登记）",
        "The number's region is not the seller's (contracts register where the seller is)",
    ),
    "field.registration_number_taken": (
        "平台上已有该登记编号的合同",
        "A contract with this registration number is already here",
    ),
    "field.duplicate_in_import": (
        "同一批导入中登记编号重复",
        "The number appears twice in this import",
    ),
    "field.in_future": ("日期不能晚于今天", "The date is after today"),
    "field.signed_after_registration": (
        "签订日期不能晚于登记日期",
        "A contract is signed before it is registered",
    ),
    "field.organization_unknown": (
        "平台上没有该统一社会信用代码的组织",
        "No organization on the platform has this credit code",
    ),
    "field.registration_incomplete": (
        "登记表数据不完整：{reasons}",
        "The registration form is incomplete: {reasons}",
    ),
    "field.subtype_not_of_type": (
        "合同类别细分与合同类型不符",
        "The sub-type is not one of the contract type's",
    ),
    "field.nature_unknown": (
        "未知的买卖方性质代码 {code}",
        "Unknown party nature code {code}",
    ),
    "field.country_unknown": (
        "未知的国别代码 {code}（GB/T 2659）",
        "Unknown country code {code} (GB/T 2659 / ISO 3166-1)",
    ),
    "field.licence_exclusivity": (
        "许可合同必须写明许可方式，其他合同不填",
        "Licences state their exclusivity; other contracts do not",
    ),
    "field.total_below_deposit": (
        "合同总额不能低于已抵作价款的保证金",
        "The total cannot be below the deposit already applied",
    ),
    "detail.payment_not_received": ("该付款尚未到账", "The payment has not arrived"),
    "detail.rewards_research_sellers": (
        "只有高校和科研院所卖方需要登记科技成果转化奖励",
        "Inventors' rewards are for university and institute sellers",
    ),
    "detail.no_inventors": ("该成果没有登记完成人", "The result names no inventors"),
    "field.costs_above_income": ("成本不能超过收入", "Costs cannot exceed the income"),
    "invalid_signature": ("签名无效", "The signature is invalid"),
    "detail.invalid_signature": (
        "Stripe-Signature 校验失败或已过期",
        "Stripe-Signature did not verify, or is too old",
    ),
    "unhandled_event": ("不处理的事件类型", "Unhandled event type"),
    "detail.unhandled_event": ("不处理 {type} 类型的事件", "Events of type {type} are not handled"),
    "payout_account_missing": ("缺少收款账户", "No payout account"),
    "detail.payout_account_missing": (
        "卖方尚未设置 Stripe 收款账户（stripe_account_id）",
        "The seller has no Stripe account (stripe_account_id) for payouts",
    ),
    "payment_provider_unavailable": ("支付服务暂不可用", "The payment provider is unavailable"),
    "detail.payment_provider_unavailable": (
        "支付服务暂时无法处理请求，请稍后重试",
        "The payment provider could not be reached; try again later",
    ),
    "detail.contract_empty": ("合同尚无条款", "The contract has no terms yet"),
    "detail.auction_not_sealed": (
        "该拍卖为多次连续报价，请通过出价接口报价",
        "This auction takes open bids: bid through /bids",
    ),
    "detail.auction_sealed": (
        "该拍卖为一次性报价，请提交密封报价（/sealed-bids）",
        "This auction takes one sealed bid each: submit it through /sealed-bids",
    ),
    "detail.not_registered": (
        "合同尚未认定登记，没有登记证明",
        "The contract is not registered: there is no certificate yet",
    ),
    "detail.refund_after_payout": (
        "款项已付给卖方，不能再从平台退款",
        "The money was already passed to the seller; it cannot be refunded here",
    ),
    "detail.brokers_fixed": (
        "合同登记后不能再更改经纪人",
        "Brokers cannot change once the contract is registered",
    ),
    "field.broker_inactive": ("以下经纪人不可用：{brokers}", "Not active brokers: {brokers}"),
    "share_over_remainder": ("份额超过剩余可分配比例", "The share exceeds what is left"),
    "detail.share_over_remainder": (
        "同一合同已批准的经纪人份额合计不能超过 100%",
        "Approved broker shares on one contract cannot exceed 100 %",
    ),
    "detail.party_confirms": (
        "只有交易一方可以确认或异议",
        "Only a party to the deal confirms or disputes",
    ),
    "detail.challenge_state": (
        "揭榜任务当前状态（{state}）不允许此操作",
        "Not possible while the challenge is {state}",
    ),
    "detail.proposal_state": (
        "揭榜方案当前状态（{state}）不允许此操作",
        "Not possible while the proposal is {state}",
    ),
    "detail.objection_state": (
        "该异议当前状态（{state}）不允许此操作",
        "Not possible while the objection is {state}",
    ),
    "detail.scoring_incomplete": (
        "尚有专家未完成评审，排名暂不公开",
        "Not every expert has scored every proposal yet: the ranking waits",
    ),
    "detail.claim_state": ("申请当前状态（{state}）不允许此操作", "Not possible in state {state}"),
    "field.share_over_remainder": (
        "份额超过该合同尚未分配的比例",
        "The share exceeds what is left on this contract",
    ),
    "field.contract_not_registered": (
        "合同尚未认定登记",
        "The contract is not registered",
    ),
    "field.contract_not_paid": ("合同尚未付款", "Nothing has been paid on the contract yet"),
    "field.claim_deadline_passed": (
        "已超过登记后 {days} 天的申请期限",
        "Claims close {days} days after registration",
    ),
    "field.not_a_broker": ("你不是在册的技术经纪人", "You are not an active broker"),
    "field.policy_not_applicable": ("该政策不适用", "This policy does not apply"),
    "field.not_eligible_outside_region": ("不在政策适用地区", "Outside the policy's region"),
    "field.not_eligible_contract_type": (
        "该合同类型不在政策范围内",
        "The policy does not cover this contract type",
    ),
    "field.not_eligible_below_minimum": (
        "技术交易额低于政策起点",
        "The amount is below the policy's minimum",
    ),
    "field.not_eligible_broker_level": (
        "经纪人等级不符合政策要求",
        "The broker's level does not qualify",
    ),
    "field.period_in_future": ("期间尚未开始", "The period has not begun"),
    "detail.nothing_to_file": ("该期间没有需要申报的事项", "Nothing to file for this period"),
    "field.period_not_closed": ("申报期间尚未结束", "The period has not ended yet"),
    "field.period_format": (
        "期间格式应为 YYYY（年度）、YYYY-MM（月度）或 YYYY-Qn（增值税按季）",
        "A period is YYYY (annual), YYYY-MM (monthly) or YYYY-Qn (quarterly VAT)",
    ),
    "field.no_rule_set_in_force": (
        "该期间没有适用的政策规则",
        "No rule set of this kind was in force in the period",
    ),
    "field.nul_character": ("不能包含空字符（U+0000）", "May not contain a NUL character (U+0000)"),
    "field.export_too_long": (
        "一次最多导出 {limit} 条，请缩短时段",
        "At most {limit} events an export: ask for a shorter period",
    ),
    "field.before_since": ("结束时间早于开始时间", "`until` is before `since`"),
    "field.before_period_from": ("结束月份早于开始月份", "The last month is before the first"),
    "field.webhook_url_not_https": ("回调地址须使用 HTTPS", "A webhook URL must use HTTPS"),
    "field.webhook_url_private": (
        "回调地址不能指向本机或内网地址",
        "A webhook URL may not point at a local or private address",
    ),
    "field.vat_period_mismatch": (
        "该纳税人的增值税纳税期限与所选期间不符（按月或按季）",
        "The period does not match the taxpayer's VAT period (monthly or quarterly)",
    ),
    "field.filing_kind_not_supported": (
        "该类申报尚未支持自动计算",
        "This kind of filing is not computed yet",
    ),
    "filing_endpoint_unavailable": ("申报系统暂不可用", "The filing endpoint is unavailable"),
    "detail.filing_endpoint_unavailable": (
        "多次重试后仍无法提交，请稍后再试（提交编号已保留）",
        "Submission failed after retries; try again later (the submission id is kept)",
    ),
    "detail.filing_state": (
        "申报表当前状态（{state}）不允许此操作",
        "Not possible in state {state}",
    ),
    "field.no_such_milestone": ("没有该付款节点", "No such milestone"),
    "field.milestone_paid": ("该付款节点已付清", "This milestone is paid"),
    "field.listing_required": ("议定成交须指明挂牌", "A negotiation names its listing"),
    "field.seller_required": ("线下成交须指明卖方", "An off-platform deal names its seller"),
    "field.expiry_past": ("过期时间必须晚于当前时间", "The expiry must be in the future"),
    "field.milestone_parts": (
        "指定支付技术部分的节点合计不得超过技术交易额（{technology}），指定支付非技术部分的节点合计不得超过其余部分（{rest}）",
        "Milestones paying the technology may add up to the technology-transaction amount "
        "({technology}) at most, and those paying the rest to the rest ({rest})",
    ),
    "field.duration_format": (
        "须为 ISO 8601 时长，以周、天、时、分、秒表示，如 P16D、PT2H、P1DT12H"
        "（月、年长短不一，请用 to 指定时间）",
        "An ISO 8601 duration in weeks, days, hours, minutes and seconds, such as P16D, PT2H or "
        "P1DT12H (months and years vary in length: move `to` an instant instead)",
    ),
    "field.clock_forward_only": (
        "沙盒时钟只能向前拨：现在是 {now}",
        "The sandbox clock only moves forward: it is {now} now",
    ),
    "field.clock_move_too_far": (
        "一次最多拨快 {max_days} 天",
        "At most {max_days} days in one move",
    ),
    "field.advance_or_to": (
        "advance 与 to 须给出且只给出一个",
        "Give exactly one of `advance` and `to`",
    ),
}


def translate(code: str, locale: Locale | None = None, /, **params: object) -> str:
    """The text for a message code in a locale, formatted with params."""
    chosen = locale or current_locale.get()
    pair = MESSAGES.get(code)
    if pair is None:
        return code
    template = pair[1] if chosen == "en" else pair[0]
    if code == "field.uscc_invalid":
        params = {**params, "reason_text": translate(f"uscc.{params.get('reason')}", chosen)}
    try:
        return template.format_map(_Lenient(params))
    except (IndexError, ValueError):
        return template


class _Lenient(dict[str, object]):
    """Leaves a missing parameter empty rather than failing the whole message."""

    def __missing__(self, key: str) -> str:
        return ""
