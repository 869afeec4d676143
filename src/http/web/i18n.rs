//! The web catalog's words in Simplified Chinese (the default) and English.

use axum::http::HeaderMap;
use axum::http::header;

use crate::domain::order::OrderState;

/// A language of the web catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Simplified Chinese.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `?lang=` wins, then the `lang` cookie the toggle sets, then `Accept-Language`; Chinese otherwise.
    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Self {
        let parse = |text: &str| match text.trim() {
            "en" => Some(Self::En),
            "zh" => Some(Self::Zh),
            _ => None,
        };
        if let Some(lang) = query.and_then(parse) {
            return lang;
        }
        let cookie = headers
            .get(header::COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|cookies| cookies.split(';').find_map(|pair| pair.trim().strip_prefix("lang=")))
            .and_then(parse);
        if let Some(lang) = cookie {
            return lang;
        }
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        // The first language named decides; quality values are rarely needed to tell zh from en.
        match accepted.split(',').next().map(str::trim) {
            Some(first) if first.starts_with("en") => Self::En,
            _ => Self::Zh,
        }
    }

    /// The `lang` attribute value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Zh => "zh-Hans",
            Self::En => "en",
        }
    }

    /// The query value of the other language, for the toggle.
    pub fn other(self) -> (&'static str, &'static str) {
        match self {
            Self::Zh => ("en", "English"),
            Self::En => ("zh", "中文"),
        }
    }

    /// Whether English text is preferred in bilingual metadata.
    pub fn english(self) -> bool {
        self == Self::En
    }

    /// A word or phrase of the interface.
    pub fn t(self, text: Text) -> &'static str {
        let (zh, en) = match text {
            Text::SiteName => ("数联网数据目录", "Data catalog"),
            Text::SearchPlaceholder => (
                "搜索数据集，例如：交通、医疗、air quality",
                "Search datasets, e.g. traffic, 交通",
            ),
            Text::Search => ("搜索", "Search"),
            Text::SearchLabel => ("搜索数据集", "Search datasets"),
            Text::Datasets => ("数据集", "Datasets"),
            Text::Open => ("开放", "Open"),
            Text::Licensed => ("授权", "Licensed"),
            Text::Publishers => ("发布方", "Publishers"),
            Text::Newest => ("最新发布", "Newest"),
            Text::MostDownloaded => ("下载最多", "Most downloaded"),
            Text::Results => ("个结果", "results"),
            Text::NoResults => (
                "没有找到匹配的数据集。试试更短的词，或去掉筛选条件。",
                "No dataset matches. Try a shorter word or remove a filter.",
            ),
            Text::NextPage => ("下一页", "Next page"),
            Text::FirstPage => ("第一页", "First page"),
            Text::Access => ("访问方式", "Access"),
            Text::Publisher => ("发布方", "Publisher"),
            Text::License => ("许可", "Licence"),
            Text::Format => ("格式", "Format"),
            Text::Keyword => ("关键词", "Keyword"),
            Text::Keywords => ("关键词", "Keywords"),
            Text::ClearFilters => ("清除筛选", "Clear filters"),
            Text::Version => ("版本", "Version"),
            Text::Versions => ("版本历史", "Versions"),
            Text::Published => ("发布于", "Published"),
            Text::Files => ("文件", "Files"),
            Text::File => ("文件名", "File"),
            Text::Size => ("大小", "Size"),
            Text::Download => ("下载", "Download"),
            Text::Copy => ("复制", "Copy"),
            Text::Copied => ("已复制", "Copied"),
            Text::Schema => ("表结构", "Schema"),
            Text::Column => ("列", "Column"),
            Text::Type => ("类型", "Type"),
            Text::Nulls => ("空值数", "Nulls"),
            Text::Min => ("最小值", "Min"),
            Text::Max => ("最大值", "Max"),
            Text::Preview => ("数据预览", "Preview"),
            Text::PreviewRows => ("行，共", "rows of"),
            Text::NoPreview => (
                "授权数据的行需订购后查看。",
                "Rows of licensed data are shown to buyers.",
            ),
            Text::Rows => ("行", "rows"),
            Text::Offer => ("授权条件", "Offer"),
            Text::Price => ("价格", "Price"),
            Text::Purposes => ("允许用途", "Purposes"),
            Text::Validity => ("最长有效期", "Longest validity"),
            Text::Days => ("天", "days"),
            Text::DownloadsAllowed => ("每个文件可下载次数", "Downloads per file"),
            Text::OrderHelp => (
                "授权数据通过签名订单获取：生成密钥、下单，节点会返回签名协议和订单令牌，每次交付都有可离线验证的签名回执。",
                "Licensed data is delivered under a signed order: make a key, place the order; the node answers a signed agreement and an order token, and every delivery gets a receipt anyone can verify offline.",
            ),
            Text::LicensedNoDownload => ("授权数据不提供直接下载。", "Licensed data has no direct download."),
            Text::Node => ("节点", "Node"),
            Text::NodeIdentity => ("节点身份", "Node identity"),
            Text::PublicKey => ("公钥", "Public key"),
            Text::Checkpoint => ("最新日志检查点", "Latest log checkpoint"),
            Text::MachineReadable => ("机器可读接口", "Machine-readable endpoints"),
            Text::Peers => ("对等节点", "Peer nodes"),
            Text::NoPeers => ("尚未添加对等节点。", "No peer nodes yet."),
            Text::PinnedKey => ("固定身份", "Pinned DID"),
            Text::LastSeen => ("最近联系", "Last seen"),
            Text::LastHarvested => ("最近采集", "Last harvested"),
            Text::LastError => ("最近错误", "Last error"),
            Text::WitnessKey => ("见证者密钥（联署）", "Witness key (cosignatures)"),
            Text::WitnessesUs => ("见证本节点日志", "Witnesses this log"),
            Text::WitnessConflicts => ("见证发现的分叉日志", "Split views caught as a witness"),
            Text::WitnessConflictsHelp => (
                "对等节点对同一历史出示了两棵不同的树：两份签名检查点均作为证据保存。",
                "A peer showed two different trees of one history: both signed checkpoints are kept as evidence.",
            ),
            Text::Never => ("从未", "never"),
            Text::OpenProfile => ("开放数据 Delta Sharing 配置", "Delta Sharing profile for open data"),
            Text::NotFound => ("页面不存在", "Page not found"),
            Text::NotFoundHelp => ("找不到这个页面或数据集。", "There is no such page or dataset."),
            Text::Home => ("首页", "Home"),
            Text::Updated => ("更新于", "Updated"),
            Text::DatasetsOf => ("的数据集", "datasets"),
            Text::Sort => ("排序", "Sort"),
            Text::Relevance => ("相关度", "Relevance"),
            Text::MyOrders => ("我的订单", "My orders"),
            Text::OrderInBrowser => ("在此浏览器中订购", "Order in this browser"),
            Text::OrderInBrowserHelp => (
                "订单由本浏览器生成并保存的买方密钥签名；协议、订单令牌和回执都保存在本浏览器中。在“我的订单”中下载文件、签收回执、导出密钥。",
                "The order is signed with a buyer key this browser makes and keeps; the agreement, the order token and the receipts stay in this browser. Download, acknowledge receipts and save your key under My orders.",
            ),
            Text::Purpose => ("用途", "Purpose"),
            Text::ValidityDays => ("有效期（天）", "Validity (days)"),
            Text::SignAndOrder => ("签名并订购", "Sign and order"),
            Text::OrderWithCli => ("用命令行订购", "Order with the command line"),
            Text::BuyerKey => ("买方密钥", "Buyer key"),
            Text::BuyerKeyHelp => (
                "密钥只保存在本浏览器中，仅本站点可读。导出为密钥文件后可用于命令行 shulian，或导入到其他浏览器。",
                "The key is kept in this browser, readable by this site only. Save it as a key file to use it with the shulian command line or in another browser.",
            ),
            Text::SaveKey => ("导出密钥文件", "Save key file"),
            Text::ImportKey => ("导入密钥文件", "Import a key file"),
            Text::OrdersHelp => (
                "这里列出在本浏览器中下的订单。订单令牌只在请求头中发送给本节点，从不出现在网址或 Cookie 中。",
                "Orders placed in this browser. An order's token goes to this node in request headers only, never in an address or a cookie.",
            ),
            Text::NoOrders => ("本浏览器中还没有订单。", "No orders in this browser yet."),
            Text::Console => ("发布方控制台", "Publisher console"),
            Text::ConsoleNav => ("控制台", "Console"),
            Text::PublisherToken => ("发布方令牌", "Publisher token"),
            Text::SignIn => ("登录", "Sign in"),
            Text::SignOut => ("退出登录", "Sign out"),
            Text::SignInHelp => (
                "令牌只保存在本站的会话 Cookie 中（HttpOnly、SameSite=Strict），页面脚本无法读取，关闭浏览器即失效。",
                "The token is kept in this site's session cookie only (HttpOnly, SameSite=Strict): no page script can read it, and it ends when the browser closes.",
            ),
            Text::SignInRefused => ("此令牌无效。", "That token is not valid."),
            Text::Orders => ("订单", "Orders"),
            Text::Buyer => ("买方", "Buyer"),
            Text::State => ("状态", "State"),
            Text::Deliveries => ("交付次数", "Deliveries"),
            Text::Refusals => ("拒绝次数", "Refused reads"),
            Text::Received => ("收到", "Received"),
            Text::Agree => ("同意", "Agree"),
            Text::Refuse => ("拒绝", "Refuse"),
            Text::Revoke => ("撤销协议", "Revoke"),
            Text::Reason => ("理由", "Reason"),
            Text::NoOrdersYet => ("尚无订单。", "No orders yet."),
            Text::StateRequested => ("等待发布方决定", "Awaiting the publisher's decision"),
            Text::StateAgreed => ("已生效", "Agreed"),
            Text::StateTerminated => ("已终止", "Ended"),
            Text::DoneSignedIn => ("已登录。", "Signed in."),
            Text::DoneAgreed => (
                "已同意：协议已由节点签署并记入日志。",
                "Agreed: the node signed the agreement and logged it.",
            ),
            Text::DoneRefused => (
                "已拒绝：拒绝书已签署并记入日志。",
                "Refused: the signed rejection is logged.",
            ),
            Text::DoneRevoked => (
                "已撤销：订单令牌失效，已有回执仍然有效。",
                "Revoked: the order's token stops working; receipts given stay valid.",
            ),
            Text::PublishVersion => ("发布新版本", "Publish a new version"),
            Text::PublishHelp => (
                "新版本由所选文件（或文件夹中的全部文件）组成，沿用最新版本的元数据。文件先在浏览器中计算 SHA-256，节点已有的文件不再上传；中断后重新选择文件即可从未上传的部分继续。",
                "The new version holds the files chosen (or every file in the folder chosen) and the newest version's metadata. Each file is hashed in the browser first and not sent when the node already holds it: after an interruption, choose the files again to go on from what was not yet sent.",
            ),
            Text::Publish => ("上传并发布", "Upload and publish"),
            Text::Hashing => ("正在计算 SHA-256：", "Hashing: "),
            Text::Uploading => ("正在上传：", "Uploading: "),
            Text::AlreadyHeld => ("节点已有，跳过：", "Already held, not sent: "),
            Text::Publishing => ("正在发布…", "Publishing…"),
            Text::PublishedVersion => ("已发布版本 ", "Published version "),
            Text::Failed => ("失败：", "Failed: "),
            Text::FilesSent => ("已上传文件", "Files sent"),
            Text::OpenDemands => ("待应答的需求", "Open demands"),
            Text::AnswerHelp => (
                "以本发布方的数据集应答需求：应答由本浏览器保存的密钥签名，并记入透明日志。",
                "Answer a demand with one of this publisher's datasets: the answer is signed with the key this browser keeps, and logged.",
            ),
            Text::AnswerWith => ("应答所用数据集版本", "Dataset version offered"),
            Text::PriceYuan => ("报价（元）", "Price (yuan)"),
            Text::Note => ("附言", "Note"),
            Text::SignAndAnswer => ("签名并应答", "Sign and answer"),
            Text::FilesHeld => ("节点已有文件", "Files already held"),
            Text::NewDataset => ("新数据集", "New dataset"),
            Text::ItemKind => ("类型", "Kind"),
            Text::PeerDemands => ("数联网其他节点的需求", "Demands at peer nodes"),
            Text::PeerDemandsHelp => (
                "从对等节点收取的需求，发布者签名已验证；请在其所在节点应答。",
                "Harvested from this node's peers, each poster's signature verified; answer them at the node they are posted at.",
            ),
            Text::HostedAt => ("所在节点", "at"),
            Text::PeerDatasets => ("数联网其他节点的数据", "Data at peer nodes"),
            Text::PeerDatasetsHelp => (
                "从对等节点收取并验证（清单签名与日志包含证明）的数据集；开放数据在其所在节点下载，授权数据在其所在节点订购。",
                "Harvested from this node's peers and verified (signed manifest, inclusion in the peer's log); open files are downloaded, and licensed data ordered, at the node that holds them.",
            ),
            Text::OrderAt => ("订购于", "Order at"),
            Text::DemandsMatch => ("条需求匹配", "demands on the board match"),
            Text::SearchDemands => ("搜索需求", "Search demands"),
            Text::PromisedBy => ("承诺交付，截止", "Delivery promised by"),
            Text::AwaitingDelivery => ("等待交付", "awaiting delivery"),
            Text::FieldsPromised => ("承诺字段", "Fields promised"),
            Text::PromiseInstead => (
                "或承诺交付（尚未发布的新版本）",
                "Or promise a delivery (a version still to be published)",
            ),
            Text::PromiseDataset => ("交付的数据集标识", "Dataset id to deliver as"),
            Text::DeliverBy => ("交付日期", "Deliver by"),
            Text::NewDatasetHelp => (
                "首次发布：填写元数据，所选文件成为版本 1。授权数据须填写订购条款，买方按条款下单。",
                "A first publication: the metadata below and the files chosen become version 1. Licensed data needs the terms buyers order under.",
            ),
            Text::DatasetIdField => (
                "数据集标识（小写字母、数字、- 或 _）",
                "Dataset id (lowercase letters, digits, - or _)",
            ),
            Text::TitleZh => ("中文标题", "Title in Chinese"),
            Text::TitleEn => ("英文标题", "Title in English"),
            Text::DescriptionZh => ("中文说明", "Description in Chinese"),
            Text::DescriptionEn => ("英文说明", "Description in English"),
            Text::KeywordsField => ("关键词（逗号分隔）", "Keywords (comma-separated)"),
            Text::LicenseField => ("许可（SPDX 标识或自定义名称）", "Licence (an SPDX id or your own name)"),
            Text::OfferTerms => ("订购条款", "Order terms"),
            Text::PurposesField => ("允许的用途（逗号分隔）", "Purposes allowed (comma-separated)"),
            Text::LongestValidity => ("最长有效期（天）", "Longest validity (days)"),
            Text::MostDownloads => ("每个文件最多下载次数", "Most downloads of each file"),
            Text::LicenseTextField => ("买方同意的许可条款", "Licence text buyers agree to"),
            Text::AutoAccept => ("符合条款的订单自动同意", "Agree at once to orders within the terms"),
            Text::ChooseFolder => ("或选择一个文件夹", "Or a folder"),
            Text::NoFilesChosen => ("请选择文件或文件夹。", "Choose files or a folder."),
            Text::DemandBoard => ("需求广场", "Demand board"),
            Text::DemandBoardHelp => (
                "买方在这里发布所需数据（需求），运营方发布揭榜挂帅；数据提供方以已发布的数据集应答。每份需求、应答和决定都经签名并记入透明日志。",
                "Buyers post the data they need here, and the operator posts challenges (揭榜挂帅); providers answer with published datasets. Every demand, answer and decision is signed and logged.",
            ),
            Text::PostDemand => ("发布需求", "Post a demand"),
            Text::DemandTitle => ("需要什么数据", "What data is wanted"),
            Text::DemandDescription => ("说明", "Description"),
            Text::WantedFields => ("所需字段（逗号分隔）", "Fields wanted (comma-separated)"),
            Text::BudgetYuan => ("预算（元）", "Budget (yuan)"),
            Text::Deadline => ("截止", "Deadline"),
            Text::Contact => ("联系方式", "Contact"),
            Text::SignAndPost => ("签名并发布", "Sign and post"),
            Text::KindDemand => ("需求", "Demand"),
            Text::AllDemands => ("全部", "All"),
            Text::KindChallenge => ("揭榜挂帅", "Challenge"),
            Text::Budget => ("预算", "Budget"),
            Text::Award => ("奖金", "Award"),
            Text::Answers => ("个应答", "answers"),
            Text::AnswersHeading => ("应答", "Answers"),
            Text::FieldsWanted => ("所需字段", "Fields wanted"),
            Text::NoAnswers => ("尚无应答。", "No answers yet."),
            Text::NoDemands => ("尚无需求。", "No demands yet."),
            Text::Poster => ("发布者", "Posted by"),
            Text::Provider => ("提供方", "Provider"),
            Text::AcceptAnswer => ("接受此应答", "Accept this answer"),
            Text::Withdraw => ("撤回需求", "Withdraw the demand"),
            Text::OrderAtAnswer => ("按应答价格订购", "Order at the answer's price"),
            Text::DemandOpen => ("征集中", "Open"),
            Text::DemandAnswered => ("已有应答", "Answered"),
            Text::DemandAwarded => ("已选定", "Awarded"),
            Text::DemandFulfilled => ("已完成", "Fulfilled"),
            Text::DemandExpired => ("已截止", "Expired"),
            Text::DemandWithdrawn => ("已撤回", "Withdrawn"),
            Text::NeedsScript => (
                "在浏览器中订购需要启用 JavaScript 且支持 WebCrypto Ed25519。",
                "Ordering in the browser needs JavaScript with WebCrypto Ed25519.",
            ),
        };
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }
}

/// Every phrase the web catalog shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    SiteName,
    SearchPlaceholder,
    Search,
    SearchLabel,
    Datasets,
    Open,
    Licensed,
    Publishers,
    Newest,
    MostDownloaded,
    Results,
    NoResults,
    NextPage,
    FirstPage,
    Access,
    Publisher,
    License,
    Format,
    Keyword,
    Keywords,
    ClearFilters,
    Version,
    Versions,
    Published,
    Files,
    File,
    Size,
    Download,
    Copy,
    Copied,
    Schema,
    Column,
    Type,
    Nulls,
    Min,
    Max,
    Preview,
    PreviewRows,
    NoPreview,
    Rows,
    Offer,
    Price,
    Purposes,
    Validity,
    Days,
    DownloadsAllowed,
    OrderHelp,
    LicensedNoDownload,
    Node,
    NodeIdentity,
    PublicKey,
    Checkpoint,
    MachineReadable,
    Peers,
    NoPeers,
    PinnedKey,
    LastSeen,
    LastHarvested,
    LastError,
    WitnessKey,
    WitnessesUs,
    WitnessConflicts,
    WitnessConflictsHelp,
    Never,
    OpenProfile,
    NotFound,
    NotFoundHelp,
    Home,
    Updated,
    DatasetsOf,
    Sort,
    Relevance,
    MyOrders,
    OrderInBrowser,
    OrderInBrowserHelp,
    Purpose,
    ValidityDays,
    SignAndOrder,
    OrderWithCli,
    BuyerKey,
    BuyerKeyHelp,
    SaveKey,
    ImportKey,
    OrdersHelp,
    NoOrders,
    NeedsScript,
    Console,
    ConsoleNav,
    PublisherToken,
    SignIn,
    SignOut,
    SignInHelp,
    SignInRefused,
    Orders,
    Buyer,
    State,
    Deliveries,
    Refusals,
    Received,
    Agree,
    Refuse,
    Revoke,
    Reason,
    NoOrdersYet,
    StateRequested,
    StateAgreed,
    StateTerminated,
    DoneSignedIn,
    DoneAgreed,
    DoneRefused,
    DoneRevoked,
    PublishVersion,
    PublishHelp,
    Publish,
    Hashing,
    Uploading,
    AlreadyHeld,
    Publishing,
    PublishedVersion,
    Failed,
    FilesSent,
    OpenDemands,
    AnswerHelp,
    AnswerWith,
    PriceYuan,
    Note,
    SignAndAnswer,
    FilesHeld,
    ItemKind,
    PeerDemands,
    PeerDemandsHelp,
    HostedAt,
    PeerDatasets,
    PeerDatasetsHelp,
    OrderAt,
    DemandsMatch,
    SearchDemands,
    PromisedBy,
    AwaitingDelivery,
    FieldsPromised,
    PromiseInstead,
    PromiseDataset,
    DeliverBy,
    NewDataset,
    NewDatasetHelp,
    DatasetIdField,
    TitleZh,
    TitleEn,
    DescriptionZh,
    DescriptionEn,
    KeywordsField,
    LicenseField,
    OfferTerms,
    PurposesField,
    LongestValidity,
    MostDownloads,
    LicenseTextField,
    AutoAccept,
    ChooseFolder,
    NoFilesChosen,
    DemandBoard,
    DemandBoardHelp,
    PostDemand,
    DemandTitle,
    DemandDescription,
    WantedFields,
    BudgetYuan,
    Deadline,
    Contact,
    SignAndPost,
    KindDemand,
    AllDemands,
    KindChallenge,
    Budget,
    Award,
    Answers,
    AnswersHeading,
    FieldsWanted,
    NoAnswers,
    NoDemands,
    Poster,
    Provider,
    AcceptAnswer,
    Withdraw,
    OrderAtAnswer,
    DemandOpen,
    DemandAnswered,
    DemandAwarded,
    DemandFulfilled,
    DemandExpired,
    DemandWithdrawn,
}

/// The phrases the market's script shows (it carries no words of its own), by the name it
/// reads them under: Chinese, English.
const SCRIPT_TEXTS: &[(&str, &str, &str)] = &[
    ("placing", "正在签名并提交订单…", "Signing and placing the order…"),
    ("posting", "正在签名并提交…", "Signing and sending…"),
    ("answered", "已应答。", "Answered."),
    ("demand", "所应需求", "The demand it answers"),
    (
        "agreed",
        "订单已生效：协议已签署。",
        "Agreed: the node signed the agreement.",
    ),
    (
        "requested",
        "订单已提交，等待发布方决定。",
        "Placed: awaiting the publisher's decision.",
    ),
    ("seeOrders", "查看我的订单", "See my orders"),
    ("validUntil", "有效期至", "Valid until"),
    ("version", "版本", "Version"),
    ("order", "订单", "Order"),
    ("files", "文件", "Files"),
    ("downloadsLeft", "剩余下载次数", "Downloads left"),
    ("download", "下载", "Download"),
    ("downloaded", "已下载并核对 SHA-256：", "Downloaded, SHA-256 checked: "),
    ("receipts", "交付回执", "Receipts"),
    ("noReceipts", "尚无回执。", "No receipts yet."),
    ("logIndex", "日志序号", "log index"),
    ("acknowledge", "签收", "Acknowledge"),
    ("acknowledged", "已签收", "Acknowledged"),
    ("evidence", "下载证据 evidence.json", "Download evidence.json"),
    ("refresh", "刷新", "Refresh"),
    (
        "mismatch",
        "文件的 SHA-256 与节点签名的清单不符，已丢弃。",
        "The file's SHA-256 differs from the node-signed manifest: discarded.",
    ),
    (
        "keyMissing",
        "本浏览器中没有此订单的买方密钥：请导入其密钥文件。",
        "This browser lacks the order's buyer key: import its key file.",
    ),
    (
        "noKey",
        "尚无密钥（首次订购时生成）。",
        "No key yet (one is made with your first order).",
    ),
    ("keyImported", "已导入密钥：", "Key imported: "),
];

impl Lang {
    /// The script's phrases in this language, as the JSON object the page hands it (an
    /// order state's name, as the API spells it, gives its label).
    pub fn script_texts(self) -> serde_json::Map<String, serde_json::Value> {
        let states = [OrderState::Requested, OrderState::Agreed, OrderState::Terminated]
            .map(|state| (state.as_str(), self.order_state(state)));
        SCRIPT_TEXTS
            .iter()
            .map(|(name, zh, en)| (*name, if self.english() { *en } else { *zh }))
            .chain(states)
            .chain([("failed", self.t(Text::Failed))])
            .map(|(name, text)| (name.to_owned(), serde_json::Value::from(text)))
            .collect()
    }

    /// An order state's label.
    pub fn order_state(self, state: OrderState) -> &'static str {
        self.t(match state {
            OrderState::Requested => Text::StateRequested,
            OrderState::Agreed => Text::StateAgreed,
            OrderState::Terminated => Text::StateTerminated,
        })
    }
}
