"""Assemble the reference text the default quality classifiers are trained on.

Writes resources/quality/{en,zh}.{positive,negative}.txt (UTF-8; one paragraph per
line, documents separated by one empty line: the `text` reference format):

- positive: reference and textbook-like prose, (a) chunks of the documents in
  resources/lm/{en,zh}.txt.xz (Debian Administrator's Handbook, Debian Reference,
  Python documentation; see resources/lm/README.md for versions and licences), every
  other document, and (b) short explanatory paragraphs written for this repository
  (`TEXTBOOK` below);
- negative: (a) web boilerplate and spam composed from phrase lists written for
  this repository (menus, cookie and newsletter banners, footers, SEO keyword
  stuffing, shop listings, comment noise), and (b) machine-garbled text made from
  the *other* half of the resources/lm documents (never those used as positives):
  words or characters shuffled, mojibake (UTF-8 read as Latin-1 or GBK), runs of
  one repeated phrase.

Deterministic: a fixed random seed and sorted inputs, so rerunning gives the same
bytes. Run from the repository root: `python resources/quality/assemble.py`.
"""

from __future__ import annotations

import lzma
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
LM = HERE.parent / "lm"
SEED = 20240518
DOCS = 160  # documents per class and language
CHUNK_CHARS = {"en": 700, "zh": 260}

TEXTBOOK = {
    "en": [
        "A fraction names a part of a whole. In the fraction three quarters, the bottom "
        "number says the whole was cut into four equal parts, and the top number says "
        "that three of those parts are meant. Two fractions are equal when they name the "
        "same amount, which is why two quarters and one half mark the same point on a "
        "number line.",
        "Water moves through the environment in a cycle. The sun warms oceans and lakes, "
        "and some of the water evaporates into the air as vapour. As the vapour rises it "
        "cools and condenses into tiny droplets that form clouds. When the droplets grow "
        "heavy they fall as rain or snow, which flows into rivers and soaks into the "
        "ground before returning to the sea.",
        "The printing press changed how knowledge spread in Europe. Before it, books were "
        "copied by hand and were rare and expensive. Movable metal type made it possible "
        "to print hundreds of identical pages quickly, so pamphlets, books and newspapers "
        "reached far more readers, and ideas could be compared and criticised in public.",
        "An algorithm is a finite list of precise steps that solves a problem. To find the "
        "largest number in a list, for example, we remember the first number, then look at "
        "each of the others in turn and replace the remembered number whenever we meet a "
        "larger one. When the list ends, the remembered number is the answer.",
        "Plants need light, water and carbon dioxide to make their food. Inside the "
        "leaves, chlorophyll captures the energy of sunlight and uses it to join carbon "
        "dioxide and water into sugar, releasing oxygen as a by-product. This is why "
        "forests and oceans full of algae matter so much to the air we breathe.",
        "Friction is a force that resists the sliding of one surface over another. It is "
        "the reason a ball rolling across the grass slows down and stops, and also the "
        "reason we can walk without slipping. Rough surfaces usually produce more friction "
        "than smooth ones, and oil or water between two surfaces usually reduces it.",
        "A good scientific experiment changes only one thing at a time. If we want to know "
        "whether sunlight helps beans grow, we plant the same kind of beans in the same "
        "soil, give them the same amount of water, and place some in the sun and some in "
        "the shade. Any difference in growth can then be traced to the light.",
        "Supply and demand describe how prices are set in a market. When many people want "
        "a product and little of it is available, sellers can ask a higher price. When "
        "the product is plentiful and few people want it, the price tends to fall until "
        "buyers and sellers agree again.",
        "The heart is a muscle that pumps blood around the body. Blood carries oxygen from "
        "the lungs to every cell and brings carbon dioxide back to be breathed out. Regular "
        "exercise makes the heart stronger, so it can move the same amount of blood with "
        "fewer beats.",
        "To write a clear paragraph, start with a sentence that states its main idea. Each "
        "following sentence should explain, support or give an example of that idea, and "
        "the last sentence can sum it up or lead into the next paragraph. A reader should "
        "be able to say in one sentence what the paragraph was about.",
    ],
    "zh": [
        "分数表示一个整体中的一部分。在四分之三这个分数中，分母四表示把整体平均分成四份，"
        "分子三表示取其中的三份。两个分数表示的大小相同时，它们就相等，所以四分之二和二分之一"
        "在数轴上是同一个点。",
        "水在自然界中不断循环。太阳把海洋和湖泊中的水加热，一部分水蒸发成水蒸气进入空气。"
        "水蒸气上升后遇冷凝结成小水滴，形成云。小水滴越聚越大，就会变成雨或雪落回地面，"
        "再流入江河，最后回到大海。",
        "印刷术的发明改变了知识传播的方式。在此之前，书籍要靠手工抄写，数量少而且价格昂贵。"
        "活字印刷让人们能够很快印出大量相同的书页，书籍和报纸因此走进了更多读者的生活。",
        "算法是解决问题的一系列明确而有限的步骤。例如要在一组数中找出最大的数，我们先记住"
        "第一个数，然后依次查看其余的数，遇到更大的就把它记下来。查看完所有的数以后，"
        "记住的那个数就是答案。",
        "植物需要阳光、水和二氧化碳来制造养分。叶片中的叶绿素吸收阳光的能量，把二氧化碳和水"
        "转化为糖，同时放出氧气。所以森林和海洋中的藻类对我们呼吸的空气非常重要。",
        "摩擦力是阻碍物体相对滑动的力。滚动的球在草地上会慢慢停下来，就是因为受到了摩擦力；"
        "我们走路不会滑倒，也要靠摩擦力。一般来说，表面越粗糙，摩擦力越大；加了油或水，"
        "摩擦力通常会变小。",
        "一个好的科学实验每次只改变一个条件。如果想知道阳光是否有助于豆子生长，就要把同一种"
        "豆子种在同样的土壤里，浇同样多的水，一部分放在阳光下，一部分放在阴凉处。"
        "这样，生长上的差别就可以归因于光照。",
        "心脏是一块不停工作的肌肉，它把血液输送到全身。血液把氧气从肺部带到每一个细胞，"
        "再把二氧化碳带回肺部呼出体外。经常锻炼可以让心脏更有力，用更少的跳动输送同样多的血液。",
        "写好一个段落，首先要用一句话说明它的中心意思。后面的每一句都应该解释、支持或举例说明"
        "这个意思，最后一句可以总结全段，或者引出下一段。读者读完以后，应该能用一句话说出"
        "这一段讲了什么。",
        "市场上的价格由供给和需求共同决定。想买某种商品的人很多而商品很少时，卖家可以提高价格；"
        "商品很多而想买的人很少时，价格往往会下降，直到买卖双方重新达成一致。",
    ],
}

# Phrase lists for web boilerplate and spam, written for this repository.
WEB = {
    "en": {
        "menu": [
            "Home",
            "About Us",
            "Contact",
            "Blog",
            "Shop",
            "FAQ",
            "Login",
            "Register",
            "Privacy Policy",
            "Terms of Service",
            "Sitemap",
            "Careers",
            "Press",
            "Help",
            "My Account",
            "Cart (0)",
            "Wishlist",
            "Deals",
            "New Arrivals",
            "Sale",
        ],
        "banner": [
            "This website uses cookies to ensure you get the best experience on our website.",
            "By continuing to browse you agree to our use of cookies. Accept all | Manage",
            "Subscribe to our newsletter and get 10% off your first order!",
            "Enter your email address to receive updates. We respect your privacy.",
            "You must be logged in to post a comment. Log in or register now.",
            "Share this: Facebook Twitter Pinterest WhatsApp Email Print",
            "Click here to read more >>> Continue reading",
            "Related posts: You may also like these articles",
            "Copyright {year} {brand}. All rights reserved. Powered by WordPress.",
            "Page 1 of 12 | Next > | Last >>",
            "Skip to main content. Toggle navigation. Search for:",
            "Advertisement - scroll to continue",
        ],
        "spam": [
            "best cheap {item} online buy {item} now discount {item} free shipping {item} "
            "sale {item} price",
            "CLICK HERE to win a FREE {item}!!! Limited time offer, act now!!!",
            "Earn ${n} per week working from home, no experience needed, sign up today",
            "Top {n} {item} reviews {year} - best {item} deals - {item} coupon code",
            "Hot singles in your area want to meet you tonight. Chat now free",
            "Online casino bonus {n} free spins no deposit casino slots jackpot win big",
            "Buy {item} without prescription cheap {item} pills overnight delivery",
            "crypto signals 1000x gains guaranteed join our telegram now",
            "{brand} {item} {brand} {item} official store {brand} outlet {item} {brand}",
        ],
        "shop": [
            "Price: ${n}.99 Add to cart In stock SKU: {code} Category: {item}",
            "Rating 4.{d} out of 5 ({n} customer reviews) Quantity: 1 Buy it now",
            "Free returns. Ships in 24 hours. Compare at ${n}.00. You save {d}0%",
        ],
        "comment": [
            "great post thanks for sharing!!!",
            "first lol",
            "nice article, check out my site too {brand}.com",
            "does anyone know where to get {item} cheap?? pm me",
            "+1 same problem here, any update?",
            "reply | report | quote",
        ],
        "item": [
            "shoes",
            "watches",
            "phone cases",
            "sunglasses",
            "handbags",
            "vitamins",
            "headphones",
            "laptop bags",
            "weight loss tea",
            "essay writing service",
            "backlinks",
            "followers",
            "hoodies",
            "wigs",
            "car insurance",
        ],
        "brand": ["MegaStore", "BestDealz", "ShopNow", "TopPicks", "WebWorld", "SuperSale"],
    },
    "zh": {
        "menu": [
            "首页",
            "关于我们",
            "联系我们",
            "新闻中心",
            "产品展示",
            "在线留言",
            "网站地图",
            "登录",
            "注册",
            "帮助中心",
            "隐私政策",
            "免责声明",
            "下载中心",
            "会员中心",
            "购物车",
            "客服热线",
            "返回顶部",
            "设为首页",
            "加入收藏",
        ],
        "banner": [
            "本站部分内容来自互联网，如有侵权请联系删除。",
            "版权所有 © {year} {brand} 保留所有权利 备案号：京ICP备{n}号",
            "扫码关注公众号，获取更多精彩内容！",
            "点击这里查看更多 >>> 阅读全文",
            "上一篇：无 下一篇：无 相关文章推荐",
            "分享到：微信 微博 QQ空间 复制链接",
            "您需要登录后才可以回帖 登录 | 立即注册",
            "广告 本广告位招租 联系QQ：{n}",
            "第1页 共12页 首页 上一页 下一页 尾页",
            "热门标签 热门推荐 猜你喜欢 最新更新",
        ],
        "spam": [
            "{item}批发 {item}价格 {item}厂家 {item}哪里买 {item}多少钱 便宜{item}",
            "免费领取{item}！！！限时优惠，马上抢购！！！",
            "代开发票 代开各类发票 联系电话{n} 诚信经营",
            "在家兼职 日赚{n}元 无需经验 加微信详聊",
            "正规彩票平台 注册送{n}元 天天返水 高赔率",
            "减肥药 一个月瘦{d}0斤 无效退款 货到付款",
            "{brand}官网 {brand}{item} {brand}旗舰店 {brand}正品 {item}",
            "刷单返利 高佣金 日结 扫码进群",
        ],
        "shop": [
            "价格：￥{n}.00 加入购物车 库存充足 商品编号：{code}",
            "好评率9{d}% 已售{n}件 包邮 七天无理由退换",
            "原价￥{n}.00 现价 限时{d}折 立即购买",
        ],
        "comment": [
            "沙发！！！",
            "楼主好人一生平安",
            "顶顶顶 支持一下",
            "求资源 求分享 谢谢",
            "路过 看看 不错不错",
            "回复 举报 引用",
        ],
        "item": [
            "手机壳",
            "运动鞋",
            "手表",
            "保健品",
            "茶叶",
            "面膜",
            "减肥茶",
            "二手车",
            "论文代写",
            "粉丝",
            "假发",
            "耳机",
            "包包",
        ],
        "brand": ["优品商城", "特惠网", "好货多", "天天购", "淘宝贝", "超值汇"],
    },
}


def lm_documents(lang: str) -> list[list[str]]:
    """The documents of resources/lm/<lang>.txt.xz, each a list of paragraphs."""
    text = lzma.decompress((LM / f"{lang}.txt.xz").read_bytes()).decode("utf-8")
    return [block.split("\n") for block in text.strip().split("\n\n") if block.strip()]


def chunk(doc: list[str], limit: int) -> list[str]:
    """Paragraphs of a document up to about ``limit`` characters."""
    out: list[str] = []
    for para in doc:
        if out and sum(map(len, out)) + len(para) > limit:
            break
        out.append(para)
    return out


def fill(template: str, words: dict[str, list[str]], rng: random.Random) -> str:
    return template.format(
        item=rng.choice(words["item"]),
        brand=rng.choice(words["brand"]),
        n=rng.randint(2, 9999),
        d=rng.randint(1, 9),
        year=rng.randint(2008, 2024),
        code=f"{rng.choice('ABCDEFGH')}{rng.randint(1000, 99999)}",
    )


def web_page(lang: str, rng: random.Random) -> list[str]:
    """A page of boilerplate and spam: a menu line, then banner/spam/shop/comment lines."""
    words = WEB[lang]
    lines = [" | ".join(rng.sample(words["menu"], rng.randint(4, 9)))]
    for _ in range(rng.randint(2, 5)):
        kind = rng.choice(["banner", "banner", "spam", "spam", "shop", "comment"])
        lines.append(fill(rng.choice(words[kind]), words, rng))
    return lines


def garble(lang: str, paragraphs: list[str], rng: random.Random) -> list[str]:
    """Machine-garbled versions of real paragraphs (one way per document)."""
    way = rng.choice(["shuffle", "shuffle", "mojibake", "repeat"])
    text = " ".join(paragraphs) if lang == "en" else "".join(paragraphs)
    if way == "shuffle":
        units = text.split() if lang == "en" else list(text.replace(" ", ""))
        rng.shuffle(units)
        return [(" " if lang == "en" else "").join(units)]
    if way == "mojibake":
        raw = text.encode("utf-8")
        wrong = raw.decode("latin-1") if lang == "en" else raw.decode("gbk", errors="replace")
        return [wrong]
    units = text.split() if lang == "en" else list(text)
    size = 4 if lang == "en" else 6
    start = rng.randrange(max(1, len(units) - size))
    phrase = (" " if lang == "en" else "").join(units[start : start + size])
    return [(" " if lang == "en" else "").join([phrase] * rng.randint(8, 20))]


def assemble(lang: str) -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(f"{SEED}-{lang}")
    docs = lm_documents(lang)
    good = [d for i, d in enumerate(docs) if i % 2 == 0]
    other = [d for i, d in enumerate(docs) if i % 2 == 1]
    limit = CHUNK_CHARS[lang]
    positives = [[p] for p in TEXTBOOK[lang]]
    for doc in rng.sample(good, DOCS - len(positives)):
        positives.append(chunk(doc, limit))
    negatives = [web_page(lang, rng) for _ in range(DOCS // 2)]
    for doc in rng.sample(other, DOCS - len(negatives)):
        negatives.append(garble(lang, chunk(doc, limit), rng))
    return positives, negatives


def write(path: Path, docs: list[list[str]]) -> None:
    blocks = ["\n".join(line.replace("\n", " ").strip() for line in doc) for doc in docs]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def main() -> None:
    for lang in ("en", "zh"):
        positives, negatives = assemble(lang)
        write(HERE / f"{lang}.positive.txt", positives)
        write(HERE / f"{lang}.negative.txt", negatives)


if __name__ == "__main__":
    main()
