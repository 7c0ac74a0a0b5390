"""Crafted web pages for the clean stage's tests, each meant for one fate."""

from __future__ import annotations

# A Chinese news page as the site served it (GBK) ...
GBK_NEWS = (
    "国家统计局今天上午发布了十月份的国民经济运行情况。\n"
    "数据显示，社会消费品零售总额同比增长百分之四点八，比上个月加快了零点二个百分点。\n"
    "其中，餐饮收入增长明显，城乡居民的出行和文化消费也保持了较快的增长势头。\n"
    "统计局新闻发言人表示，下一步要继续扩大国内需求，巩固经济回升向好的基础。"
)
# ... read by a crawler as latin-1: mojibake ftfy cannot undo (GBK is no UTF-8).
GBK_AS_LATIN1 = GBK_NEWS.encode("gbk").decode("latin-1")

# An English page whose UTF-8 was read as Windows-1252: mojibake ftfy can undo.
CAFE = (
    "The café on the corner opened its doors again this spring after a long winter.\n"
    "Its owner, Zoë, says the new menu keeps the crêpes that regulars have loved for "
    "twenty years.\n"
    "‘We changed the coffee beans and nothing else,’ she explains with a smile.\n"
    "Prices stay the same — a crêpe with butter and sugar still costs four euros."
)
CAFE_MOJIBAKE = CAFE.encode("utf-8").decode("cp1252")

# A news page in traditional characters, with the site's own lines around it.
TRADITIONAL_NEWS = (
    "臺灣中央氣象署今天發布颱風警報，預計颱風將於明天清晨從東部海面靠近陸地。\n"
    "氣象專家表示，這個颱風的結構完整，暴風圈範圍很大，各地都要注意強風和豪雨。\n"
    "交通部門已經宣佈，部分鐵路和國內航班將暫停營運，請旅客隨時留意最新消息。\n"
    "學校是否停課，將由各縣市政府根據風雨的情況在今天晚上八點以前決定。"
)
SIMPLIFIED_NEWS = (
    "台湾中央气象署今天发布台风警报，预计台风将于明天清晨从东部海面靠近陆地。\n"
    "气象专家表示，这个台风的结构完整，暴风圈范围很大，各地都要注意强风和豪雨。\n"
    "交通部门已经宣布，部分铁路和国内航班将暂停营运，请旅客随时留意最新消息。\n"
    "学校是否停课，将由各县市政府根据风雨的情况在今天晚上八点以前决定。"
)
SITE_LINES = [
    "本網站使用cookies以提升您的瀏覽體驗，繼續瀏覽即表示您同意。",
    "您的瀏覽器版本過低，請升級您的瀏覽器。",
    "掃描二維碼，關注我們的微信公眾號",
    "版權所有 © 2024 新聞網 未經授權不得轉載",
]
TRADITIONAL_PAGE = "\n".join([SITE_LINES[0], SITE_LINES[1], TRADITIONAL_NEWS, *SITE_LINES[2:]])
EN_SITE_LINES = [
    "This website uses cookies to improve your experience.",
    "Your browser is out of date. Please update your browser.",
    "Download our free app and scan the QR code to follow us.",
    "Copyright © 2024 Example News. All rights reserved.",
]

# A page full of contact details: every value below is found and masked.
ID_NUMBER = "11010519491231002X"  # the sample number of GB 11643 (check character X)
BAD_ID_NUMBER = "110105194912310021"  # same digits, wrong check character: kept
CARD = "4111 1111 1111 1111"  # a Visa test number (Luhn-valid)
BAD_CARD = "4111 1111 1111 1112"  # Luhn-invalid: kept
CONTACTS = {
    "email": ["zhang.wei@example.com.cn", "sales-team+web@shop.example.org"],
    "phone": ["13812345678", "+86 139-1234-5678", "+44 20 7946 0958"],
    "id_number": [ID_NUMBER],
    "card": [CARD],
    "ip": ["114.114.114.114", "2400:3200::1"],
}
CONTACT_PAGE = (
    "联系我们\n"
    "如果您对我们的产品和服务有任何问题，欢迎随时和我们的客服团队联系。\n"
    f"客服经理张先生的手机号码是{CONTACTS['phone'][0]}，工作时间为周一到周五。\n"
    f"华东地区的销售热线是 {CONTACTS['phone'][1]}，伦敦办公室请拨打 {CONTACTS['phone'][2]}。\n"
    f"电子邮件请发送到 {CONTACTS['email'][0]}，团购业务请写信给 {CONTACTS['email'][1]}。\n"
    f"办理会员卡时需要登记身份证号，例如 {ID_NUMBER}，填错的号码 {BAD_ID_NUMBER} 会被系统退回。\n"
    f"预付款可以用信用卡 {CARD} 支付，卡号 {BAD_CARD} 无法通过校验。\n"
    f"我们的服务器地址是 {CONTACTS['ip'][0]} 和 {CONTACTS['ip'][1]}，"
    "内网测试机是 192.168.1.20。"
)
PII_VALUES = [value for values in CONTACTS.values() for value in values]

# A Chinese page whose sentences are half written in pinyin.
PINYIN_MIX = (
    "今天我们学习怎么用拼音写一段自我介绍。\n"
    "wo jiao li ming, wo shi bei jing ren, jin nian er shi san sui.\n"
    "我在一家银行工作，平时喜欢看书和跑步。\n"
    "wo de jia li you si kou ren: ba ba, ma ma, mei mei he wo.\n"
    "Nǐ hǎo, hěn gāoxìng rènshi nǐ! 下次我们再学习更多的句子。"
)
# Chinese text with a few romanised names only: not pinyin-mixed.
NAMES_ONLY = (
    "本次比赛的冠军是来自北京的选手Zhang Wei，亚军是上海的Li Na。\n"
    "两位选手在决赛中表现都非常出色，观众们给了他们热烈的掌声。"
)

SPAM_EN = (
    "Best online casino bonus today! Play the slot machine and win big.\n"
    "Online casino, sports betting and casino games for everyone.\n"
    "Cheap viagra and cialis without a prescription, replica watches too."
)
SPAM_ZH = (
    "网上赌博平台，博彩娱乐城，六合彩时时彩天天开奖。\n"
    "赌场代理招募中，刷单兼职日结，办证请联系客服。"
)
