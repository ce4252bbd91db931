//! The words of the demo: place names, people's names, and what residents
//! say, in natural Vietnamese with diacritics.
//!
//! Place names are those of the coastal border communes of Sóc Trăng that
//! the field articles describe; the sentences are ours. Texts are written
//! per topic so that a search for a topic's words finds its cases.

/// The provincial command and its two border posts.
pub const PROVINCE: &str = "Bộ Chỉ huy Bộ đội Biên phòng tỉnh Sóc Trăng";
pub const POSTS: [&str; 2] = ["Đồn Biên phòng Vĩnh Hải", "Đồn Biên phòng Trần Đề"];

/// The eleven communes, wards and townships, by post (6 + 5).
pub const COMMUNES: [(usize, &str); 11] = [
    (0, "Xã Vĩnh Hải"),
    (0, "Xã Lai Hòa"),
    (0, "Xã Vĩnh Tân"),
    (0, "Phường Vĩnh Phước"),
    (0, "Phường Khánh Hòa"),
    (0, "Phường 2"),
    (1, "Thị trấn Trần Đề"),
    (1, "Xã Trung Bình"),
    (1, "Xã Liêu Tú"),
    (1, "Xã Lịch Hội Thượng"),
    (1, "Xã Đại Ân 2"),
];

/// Hamlet names, handed out in order to the communes (3 or 4 each).
pub const HAMLETS: [&str; 40] = [
    "Âu Thọ A",
    "Âu Thọ B",
    "Huỳnh Ký",
    "Giồng Giữa",
    "Đại Bái",
    "Lai Hòa A",
    "Lai Hòa B",
    "Xẻo Me",
    "Prey Chóp A",
    "Prey Chóp B",
    "Vĩnh Thành",
    "Vĩnh Bình",
    "Wathpich",
    "Cà Săng",
    "Khánh Hưng",
    "Khánh Bình",
    "Sông Cái",
    "Kinh Ba",
    "Bưng Sa",
    "Nopol",
    "Cảng Cá",
    "Giồng Chùa",
    "Đầu Giồng",
    "Ngan Rô",
    "Trà Niên",
    "Tân Thời",
    "Cà Lăng",
    "Liêu Tú A",
    "Liêu Tú B",
    "Bưng Chụp",
    "Cây Sộp",
    "Lịch Trung",
    "Mỏ Ó",
    "Vàm Hồ",
    "Đại Nghĩa",
    "Đại Ân",
    "Chợ Kinh",
    "Phú Giao",
    "Mỹ Thanh 1",
    "Mỹ Thanh 2",
];

/// How many hamlets each commune gets (sums to 40).
pub const HAMLETS_PER_COMMUNE: [usize; 11] = [4, 4, 3, 3, 3, 3, 4, 3, 3, 4, 6];

pub const FAMILY_NAMES: [&str; 16] = [
    "Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Thạch", "Sơn", "Lâm", "Kim",
    "Danh", "Lý", "Dương", "Đỗ",
];
pub const MIDDLE_NAMES: [&str; 8] = [
    "Văn",
    "Thị",
    "Minh",
    "Hoàng",
    "Ngọc",
    "Thanh",
    "Hữu",
    "Thị Kim",
];
pub const GIVEN_NAMES: [&str; 20] = [
    "Sang",
    "Phước",
    "Hùng",
    "Lan",
    "Dũng",
    "Thảo",
    "Tâm",
    "Nguyệt",
    "Khánh",
    "Sa Rây",
    "Sóc",
    "Thương",
    "Hòa",
    "Bình",
    "Đông",
    "Chanh",
    "Mến",
    "Trung",
    "Sơn",
    "Ngọc Ánh",
];
pub const RANKS: [&str; 5] = ["Thiếu úy", "Trung úy", "Thượng úy", "Đại úy", "Thiếu tá"];

/// Outside bodies a case can be referred to.
pub const STATE_BODIES: [&str; 5] = [
    "Ủy ban nhân dân xã",
    "Phòng Lao động – Thương binh và Xã hội thị xã",
    "Ngân hàng Chính sách xã hội thị xã",
    "Trung tâm Y tế thị xã",
    "Phòng Tài nguyên và Môi trường thị xã",
];

/// What residents raise, per topic code of the default taxonomy.
pub fn concern_texts(topic: &str) -> &'static [&'static str] {
    match topic {
        "social_security" => &[
            "Gia đình thuộc hộ nghèo nhưng chưa được cấp thẻ bảo hiểm y tế năm nay, đề nghị xem xét.",
            "Mẹ già trên 80 tuổi chưa nhận được trợ cấp xã hội ba tháng gần đây, nhờ hỏi giúp.",
            "Nhà dột nát sau mùa mưa, mong được hỗ trợ xây nhà Đại đoàn kết.",
            "Con là học sinh mồ côi cha, gia đình xin hỗ trợ học bổng và sách vở.",
        ],
        "public_order" => &[
            "Thanh niên tụ tập đua xe trên đường đê ban đêm, người dân lo mất an toàn.",
            "Có người lạ thường xuyên lui tới khu vực bến cá lúc khuya, bà con lo ngại.",
            "Trong ấp xảy ra mất trộm gà vịt liên tiếp, đề nghị tăng cường tuần tra.",
            "Tiếng karaoke quá khuya gây mất trật tự, ảnh hưởng người già và trẻ nhỏ.",
        ],
        "crime_smuggling" => &[
            "Nghi có ghe lạ vận chuyển thuốc lá lậu vào cửa sông lúc rạng sáng.",
            "Phát hiện một số đối tượng mua bán hàng cấm ở khu chợ tạm ven biển.",
            "Nghi có người rủ rê thanh niên trong ấp sử dụng chất ma túy.",
            "Có đối tượng cho vay nặng lãi, đòi nợ bằng cách đe dọa gia đình.",
        ],
        "livelihood_loans" => &[
            "Gia đình thiếu vốn sản xuất, mong được vay vốn giải quyết việc làm để mở tạp hóa nhỏ.",
            "Vụ tôm vừa rồi bị thua lỗ, xin được gia hạn nợ vay ngân hàng chính sách.",
            "Muốn chuyển đổi sang trồng hành tím nhưng thiếu vốn mua giống và phân bón.",
            "Con trai thất nghiệp sau khi về quê, nhờ giới thiệu học nghề và việc làm.",
        ],
        "land" => &[
            "Tranh chấp ranh giới đất với hộ bên cạnh chưa được giải quyết dứt điểm.",
            "Đất sản xuất bị sạt lở do triều cường, đề nghị xem xét hỗ trợ.",
            "Gia đình chưa được cấp giấy chứng nhận quyền sử dụng đất dù đã nộp hồ sơ lâu.",
        ],
        "health" => &[
            "Người dân phản ánh trạm y tế thiếu thuốc điều trị bệnh mãn tính.",
            "Trong ấp có nhiều trẻ bị sốt xuất huyết, đề nghị phun thuốc diệt muỗi.",
            "Người khuyết tật trong gia đình cần xe lăn, nhờ kết nối hỗ trợ.",
        ],
        "education" => &[
            "Con đường đến điểm trường bị ngập, các cháu đi học rất khó khăn.",
            "Một số em trong ấp có nguy cơ bỏ học vì hoàn cảnh khó khăn.",
            "Phụ huynh mong mở lớp học tiếng Khmer cho các cháu vào dịp hè.",
        ],
        "roads_infrastructure" => &[
            "Cây cầu khỉ qua kênh đã mục, người dân đi lại nguy hiểm.",
            "Tuyến đường vào ấp xuống cấp, nhiều ổ gà, đề nghị sửa chữa.",
            "Khu dân cư chưa có đèn chiếu sáng, ban đêm đi lại khó khăn.",
            "Nước sinh hoạt bị nhiễm mặn vào mùa khô, mong được hỗ trợ bồn chứa.",
        ],
        "disasters_epidemics" => &[
            "Triều cường làm tràn bờ bao, nhiều ao tôm bị thiệt hại.",
            "Dông lốc làm tốc mái nhà, gia đình cần hỗ trợ khẩn cấp.",
            "Mùa khô hạn mặn kéo dài, vườn hành bị ảnh hưởng nặng.",
        ],
        "border_markers_crossings" => &[
            "Phát hiện phao tiêu đánh dấu luồng lạch bị trôi dạt khỏi vị trí.",
            "Có tàu cá lạ neo đậu gần bờ nhiều ngày không rõ lý do.",
            "Người dân phản ánh biển báo khu vực biên giới bị hư hỏng.",
        ],
        _ => &[
            "Bà con mong được phổ biến kiến thức pháp luật về đánh bắt hải sản.",
            "Người dân đề nghị tổ chức sinh hoạt văn hóa, văn nghệ dịp lễ Ok Om Bok.",
            "Gia đình xin xác nhận hoàn cảnh để làm hồ sơ cho con đi học nghề.",
        ],
    }
}

/// What the handler did, by kind of action.
pub const ACTION_SUMMARIES: [&str; 6] = [
    "Đến nhà nắm tình hình, động viên gia đình yên tâm.",
    "Tư vấn gia đình thủ tục và hồ sơ cần chuẩn bị.",
    "Phối hợp với chi bộ ấp kiểm tra thực tế tại chỗ.",
    "Báo cáo đồn, đề xuất cấp ủy chỉ đạo giải quyết.",
    "Trao quà hỗ trợ và hướng dẫn gia đình ổn định cuộc sống.",
    "Họp tổ tự quản, vận động bà con cùng tham gia giải quyết.",
];

/// How the case ended, when it was resolved.
pub const RESOLUTIONS: [&str; 5] = [
    "Đã giải quyết dứt điểm, gia đình ổn định cuộc sống.",
    "Đã phối hợp các ngành chức năng xử lý xong.",
    "Gia đình được vay vốn, mở tiệm tạp hóa nhỏ, thu nhập cải thiện.",
    "Đã sửa chữa xong, bà con đi lại thuận tiện.",
    "Đã xác minh, xử lý đối tượng theo quy định.",
];

pub const FEEDBACK_SATISFIED: [&str; 3] = [
    "Gia đình rất cảm ơn các anh bộ đội biên phòng.",
    "Bà con hài lòng, mong được quan tâm thường xuyên.",
    "Đã được giải quyết kịp thời, người dân phấn khởi.",
];
pub const FEEDBACK_UNSATISFIED: [&str; 2] = [
    "Gia đình chưa hài lòng vì vấn đề vẫn chưa dứt điểm.",
    "Người dân mong được giải quyết nhanh hơn.",
];
